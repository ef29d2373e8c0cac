"""Routes of the decision ledger: who was told what, and why not (role push.admin: by event, by user, both, or the
newest of all), and the caller's own decisions (any signed-in user, only their own)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.api.http import ApiRequest, ApiResponse, json_response
from shared.api.operators import PUSH_ADMIN_ROLE
from shared.api.runtime import authenticate
from shared.api.validation import validate_model
from shared.composition.services import Services
from shared.domain.catalog.wire_types import Rfc3339DateTime
from shared.domain.decisions import Decision
from shared.domain.errors import UpstreamUnavailableError
from shared.domain.events import MAX_EVENT_ID_LENGTH
from shared.domain.identity import require_role
from shared.ports import DecisionLedger
from shared.ports.ledger import LEDGER_CURSOR_PATTERN
from shared.usecases.commands import DecisionFeedQuery, EventDeliveriesQuery, UserDeliveriesQuery
from shared.usecases.decision_ledger import UserDeliveries, decision_feed, deliveries_for_event, deliveries_for_user

__all__ = [
    "USER_ID_MAX_LENGTH",
    "DecisionView",
    "DeliveriesPage",
    "DeliveriesParams",
    "UserDeliveriesParams",
    "decision_view",
    "get_deliveries",
    "get_my_deliveries",
]

DEFAULT_WINDOW = timedelta(days=7)
_CAMEL = ConfigDict(populate_by_name=True, extra="forbid")


USER_ID_MAX_LENGTH = 256
FEED_WINDOW = timedelta(hours=1)
# The Functions host joins a repeated query parameter's values with commas: a value with a comma could be two.
_NO_COMMA = "the host joins a repeated parameter's values with commas"
_NO_COMMA_PATTERN = r"^[^,]*$"
_LIMIT = Field(default=50, ge=1, le=200, description="page size")
_CURSOR = Field(default=None, pattern=LEDGER_CURSOR_PATTERN, description="`next` of the previous page")


class DeliveriesParams(BaseModel):
    """Query string of GET /api/deliveries (role push.admin). Every combination is a question: eventId, that event's
    decisions; userId, that user's; both, that user's on that event; neither, the newest decisions of all."""

    model_config = _CAMEL

    event_id: str | None = Field(
        default=None,
        alias="eventId",
        min_length=1,
        max_length=MAX_EVENT_ID_LENGTH,
        pattern=_NO_COMMA_PATTERN,
        description=f"only this event (no comma: {_NO_COMMA})",
    )
    user_id: str | None = Field(
        default=None,
        alias="userId",
        min_length=1,
        max_length=USER_ID_MAX_LENGTH,
        pattern=_NO_COMMA_PATTERN,
        description=f"only this user's decisions, with the broadcasts as they read for them (no comma: {_NO_COMMA})",
    )
    since: Rfc3339DateTime | None = Field(
        default=None,
        description="events that occurred at or after (RFC 3339 with an offset). Default: 7 days ago for userId, "
        "the last hour for the recent feed (which reaches back 48 hours at most), no bound for eventId",
    )
    limit: int = _LIMIT
    cursor: str | None = Field(
        default=None,
        pattern=LEDGER_CURSOR_PATTERN,
        description="`next` of the previous page; any string of this shape is a position in the list asked for "
        "(the recent feed is one page, so there every cursor is past its end)",
    )


class UserDeliveriesParams(BaseModel):
    """Query string of GET /api/me/deliveries: the caller's own decisions."""

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
        default=None,
        description="userId queries: the broadcasts as they read for this user (userId alone: the window's, on the "
        "first page; with eventId: the event's)",
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
    """GET /api/deliveries?eventId=&userId=&since=&limit=&cursor=: the decision ledger (role push.admin)."""
    require_role(authenticate(request, services), PUSH_ADMIN_ROLE)
    query = validate_model(DeliveriesParams, dict(request.query), "the query string")
    ledger, since = _ledger(services), _in_utc(query.since)
    if query.event_id is not None:
        command = EventDeliveriesQuery(query.event_id, query.limit, query.cursor, query.user_id, since)
        found = await deliveries_for_event(ledger, services.installations, command)
        return _page_response(found, with_broadcasts=query.user_id is not None)
    if query.user_id is not None:
        return await _user_page(services, query.user_id, since, query.limit, query.cursor)
    if query.cursor is not None:
        return json_response({"items": [], "next": None})
    now = services.now()
    feed = await decision_feed(ledger, DecisionFeedQuery(since or now - FEED_WINDOW, now, query.limit))
    return json_response({"items": [decision_view(d) for d in feed], "next": None})


async def get_my_deliveries(request: ApiRequest, services: Services) -> ApiResponse:
    """GET /api/me/deliveries: the caller's own decisions (never anyone else's)."""
    identity = authenticate(request, services)
    query = validate_model(UserDeliveriesParams, dict(request.query), "the query string")
    return await _user_page(services, identity.user_id, _in_utc(query.since), query.limit, query.cursor)


async def _user_page(
    services: Services, user_id: str, since: datetime | None, limit: int, cursor: str | None
) -> ApiResponse:
    window_start = since if since is not None else services.now() - DEFAULT_WINDOW
    command = UserDeliveriesQuery(user_id, window_start, limit, cursor)
    found = await deliveries_for_user(_ledger(services), services.installations, command)
    return _page_response(found, with_broadcasts=cursor is None)


def _in_utc(moment: datetime | None) -> datetime | None:
    """``moment`` in UTC; where its offset pushes it past the years Python holds, the first or last instant."""
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


def _page_response(found: UserDeliveries, *, with_broadcasts: bool) -> ApiResponse:
    body: dict[str, Any] = {"items": [decision_view(d) for d in found.page.items], "next": found.page.cursor}
    if with_broadcasts:
        body["broadcasts"] = [decision_view(d) for d in found.broadcasts]
    return json_response(body)
