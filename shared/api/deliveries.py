"""Routes of the decision ledger: who was told what about an event, and why not (role push.admin), and the caller's
own decisions (any signed-in user, only their own)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.api.http import ApiRequest, ApiResponse, json_response
from shared.api.operators import PUSH_ADMIN_ROLE
from shared.api.runtime import authenticate
from shared.api.validation import validate_model
from shared.composition.services import Services
from shared.domain.catalog.wire_types import Rfc3339DateTime
from shared.domain.decisions import Decision
from shared.domain.errors import FieldError, UpstreamUnavailableError, ValidationError
from shared.domain.events import MAX_EVENT_ID_LENGTH
from shared.domain.identity import require_role
from shared.ports import DecisionLedger
from shared.ports.ledger import LEDGER_CURSOR_PATTERN
from shared.usecases.commands import EventDeliveriesQuery, UserDeliveriesQuery
from shared.usecases.decision_ledger import deliveries_for_event, deliveries_for_user

__all__ = [
    "USER_ID_MAX_LENGTH",
    "DecisionView",
    "DeliveriesPage",
    "EventDeliveriesParams",
    "UserDeliveriesParams",
    "decision_view",
    "get_deliveries",
    "get_my_deliveries",
    "get_user_deliveries",
]

DEFAULT_WINDOW = timedelta(days=7)
_CAMEL = ConfigDict(populate_by_name=True, extra="forbid")


USER_ID_MAX_LENGTH = 256
_LIMIT = Field(default=50, ge=1, le=200, description="page size")
_CURSOR = Field(default=None, pattern=LEDGER_CURSOR_PATTERN, description="`next` of the previous page")


class EventDeliveriesParams(BaseModel):
    """Query string of GET /api/deliveries: one event's decisions."""

    model_config = _CAMEL

    event_id: str = Field(alias="eventId", min_length=1, max_length=MAX_EVENT_ID_LENGTH, description="the event")
    limit: int = _LIMIT
    cursor: str | None = _CURSOR


class UserDeliveriesParams(BaseModel):
    """Query string of GET /api/users/{userId}/deliveries and GET /api/me/deliveries: one user's decisions."""

    model_config = _CAMEL

    since: Rfc3339DateTime | None = Field(
        default=None, description="events that occurred at or after (RFC 3339 with an offset); default 7 days ago"
    )
    limit: int = _LIMIT
    cursor: str | None = _CURSOR


class DecisionView(BaseModel):
    """One decision as the API shows it."""

    model_config = ConfigDict(populate_by_name=True)

    event_id: str = Field(alias="eventId")
    event_type: str | None = Field(alias="eventType")
    outcome: str = Field(description="sent, suppressed, deferred, quarantined or failed")
    reason: str = Field(description="why: delivered, below_threshold, no_device, not_interested, quiet_hours, ...")
    channel: str = Field(description="push (in_app when real-time delivery lands)")
    user_id: str | None = Field(alias="userId", description="null for a broadcast")
    audience: str | None = Field(description="the tag expression sent to Notification Hubs")
    audience_size: int | None = Field(alias="audienceSize", description="devices the broadcast's expression reached")
    notification_id: str | None = Field(alias="notificationId")
    nh_outcome: str | None = Field(alias="nhOutcome")
    detail: str | None
    campaign_id: str | None = Field(alias="campaignId")
    trace_id: str | None = Field(alias="traceId")
    attempt: int
    latency_ms: float | None = Field(alias="latencyMs", description="event on the bus -> NH accepted")
    dead_lettered: bool = Field(alias="deadLettered")
    occurred_at: datetime = Field(alias="occurredAt")
    decided_at: datetime = Field(alias="decidedAt")


class DeliveriesPage(BaseModel):
    """A page of decisions, newest first; ``next`` is the cursor of the following page."""

    items: list[DecisionView]
    next: str | None
    broadcasts: list[DecisionView] | None = Field(
        default=None, description="userId queries, first page: the window's broadcasts as they read for this user"
    )


def decision_view(decision: Decision) -> dict[str, Any]:
    fields = {name: getattr(decision, name) for name in DecisionView.model_fields}
    fields.update(outcome=decision.outcome.value, channel=decision.channel.value)
    return DecisionView.model_validate(fields).model_dump(mode="json", by_alias=True)


def _ledger(services: Services) -> DecisionLedger:
    if services.ledger is None:
        raise UpstreamUnavailableError("the decision ledger is not configured")
    return services.ledger


async def get_deliveries(request: ApiRequest, services: Services) -> ApiResponse:
    """GET /api/deliveries?eventId=...: every recipient's decision on one event (role push.admin)."""
    require_role(authenticate(request, services), PUSH_ADMIN_ROLE)
    query = validate_model(EventDeliveriesParams, dict(request.query), "the query string")
    command = EventDeliveriesQuery(query.event_id, query.limit, query.cursor)
    page = await deliveries_for_event(_ledger(services), command)
    return json_response({"items": [decision_view(d) for d in page.items], "next": page.cursor})


async def get_user_deliveries(request: ApiRequest, services: Services) -> ApiResponse:
    """GET /api/users/{userId}/deliveries?since=...: one user's decisions and the window's broadcasts (push.admin)."""
    require_role(authenticate(request, services), PUSH_ADMIN_ROLE)
    user_id = request.route_params.get("userId", "")
    if not 1 <= len(user_id) <= USER_ID_MAX_LENGTH:
        raise ValidationError("invalid user id", [FieldError("path:userId", f"1 to {USER_ID_MAX_LENGTH} characters")])
    query = validate_model(UserDeliveriesParams, dict(request.query), "the query string")
    return await _user_page(services, user_id, query.since, query.limit, query.cursor)


async def get_my_deliveries(request: ApiRequest, services: Services) -> ApiResponse:
    """GET /api/me/deliveries: the caller's own decisions (never anyone else's)."""
    identity = authenticate(request, services)
    query = validate_model(UserDeliveriesParams, dict(request.query), "the query string")
    return await _user_page(services, identity.user_id, query.since, query.limit, query.cursor)


async def _user_page(
    services: Services, user_id: str, since: datetime | None, limit: int, cursor: str | None
) -> ApiResponse:
    window_start = since if since is not None else services.now() - DEFAULT_WINDOW
    command = UserDeliveriesQuery(user_id, window_start, limit, cursor)
    found = await deliveries_for_user(_ledger(services), services.installations, command)
    body: dict[str, Any] = {"items": [decision_view(d) for d in found.page.items], "next": found.page.cursor}
    if cursor is None:
        body["broadcasts"] = [decision_view(d) for d in found.broadcasts]
    return json_response(body)
