"""Routes of operators' sends (role push.admin): audience preview, campaigns; and the recipient's secure read."""

from __future__ import annotations

from shared.api.campaign_schemas import IDEMPOTENCY_KEY_PATTERN, AudienceParams, NotificationRequest
from shared.api.campaign_views import audience_view, campaign_summary, campaign_view, inbox_item_view
from shared.api.http import ApiRequest, ApiResponse, json_response, parse_json_object
from shared.api.operators import PUSH_ADMIN_ROLE
from shared.api.runtime import authenticate
from shared.api.validation import validate_model
from shared.composition.services import Services
from shared.domain.catalog.wire_types import python_regex
from shared.domain.errors import FieldError, ValidationError
from shared.domain.identity import Identity, require_role
from shared.usecases import campaigns
from shared.usecases.notification_inbox import read_my_notification
from shared.usecases.preview_audience import preview_audience

__all__ = [
    "cancel_notification",
    "get_audience",
    "get_my_notification",
    "get_notification",
    "list_notifications",
    "post_notification",
]

MAX_NOTIFICATION_BODY_BYTES = 256 * 1024  # the largest valid send, ASCII-escaped, is about 220 KB (a unit test)
_IDEMPOTENCY_KEY = python_regex(IDEMPOTENCY_KEY_PATTERN)


def _admin(request: ApiRequest, services: Services) -> Identity:
    identity = authenticate(request, services)
    require_role(identity, PUSH_ADMIN_ROLE)
    return identity


async def get_audience(request: ApiRequest, services: Services) -> ApiResponse:
    """GET /api/audience?expression=...: installations the expression reaches, by platform and language."""
    _admin(request, services)
    expression = validate_model(AudienceParams, dict(request.query), "the query string").expression
    counts = await preview_audience(services.installations, expression)
    return json_response(audience_view(" ".join(expression.split()), counts))


async def post_notification(request: ApiRequest, services: Services) -> ApiResponse:
    """POST /api/notifications: 202 with the campaign's id and Location; the campaign timer does the sending."""
    identity = _admin(request, services)
    key = request.header("idempotency-key")
    if key is not None and not _IDEMPOTENCY_KEY.search(key):
        raise ValidationError(
            "invalid Idempotency-Key", [FieldError("header:Idempotency-Key", "1 to 200 visible ASCII characters")]
        )
    body = validate_model(NotificationRequest, parse_json_object(request, MAX_NOTIFICATION_BODY_BYTES))
    campaign, created = await campaigns.create_campaign(services.campaign, identity, body.to_command(key))
    headers = {"Location": f"/api/notifications/{campaign.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return json_response(campaign_summary(campaign), status=202, headers=headers)


async def list_notifications(request: ApiRequest, services: Services) -> ApiResponse:
    _admin(request, services)
    found = await campaigns.list_campaigns(services.campaign)
    return json_response({"notifications": [campaign_summary(campaign) for campaign in found]})


async def get_notification(request: ApiRequest, services: Services) -> ApiResponse:
    _admin(request, services)
    view = await campaigns.get_campaign(services.campaign, request.route_params.get("id", ""))
    return json_response(campaign_view(view, services.now()))


async def cancel_notification(request: ApiRequest, services: Services) -> ApiResponse:
    """POST /api/notifications/{id}/cancel: cancel what has not gone out; 200 with the campaign as it is now."""
    identity = _admin(request, services)
    view = await campaigns.cancel_campaign(services.campaign, identity, request.route_params.get("id", ""))
    return json_response(campaign_view(view, services.now()))


async def get_my_notification(request: ApiRequest, services: Services) -> ApiResponse:
    """GET /api/me/notifications/{id}: the caller's own notification content (404 for anyone else's)."""
    identity = authenticate(request, services)
    item, language = await read_my_notification(
        services.secure_content,
        services.preferences,
        services.installations,
        identity,
        request.route_params.get("id", ""),
    )
    return json_response(inbox_item_view(item, language))
