"""POST /{hub}/schedulednotifications and DELETE /{hub}/schedulednotifications/{scheduledId}."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from local.nh_emulator.auth import authorize
from local.nh_emulator.config import Right, Tier
from local.nh_emulator.context import api_version, emulator_of, hub_url, read_body, require_tier
from local.nh_emulator.notifications import parse_send
from local.nh_emulator.state import NotificationRecord, ScheduledSend
from local.nh_emulator.wire import EmulatorError, new_scheduled_id, nh_response

__all__ = ["SCHEDULE_HORIZON_SECONDS", "cancel_scheduled", "parse_schedule_time", "schedule_send"]

SCHEDULE_HORIZON_SECONDS = 7 * 24 * 3600
_SEND = frozenset({Right.SEND})
_CANCEL = frozenset({Right.SEND, Right.MANAGE})
# Headers a scheduled send needs again when it fires (format, tags, content type, PNS pass-through).
_KEPT = ("content-type", "servicebusnotification-format", "servicebusnotification-tags")


def parse_schedule_time(value: str | None) -> float:
    """``yyyy-MM-ddTHH:mm:ss`` (.NET/Java, UTC) or ISO with ``Z``/offset (JS); raises EmulatorError 400."""
    if not value:
        raise EmulatorError(400, "The ServiceBusNotification-ScheduleTime header is required")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise EmulatorError(400, f"The schedule time '{value}' is not a valid UTC date and time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


async def schedule_send(request: Request) -> Response:
    """Keep a send until its time; 201 + Location of the scheduled notification (Standard tier)."""
    emulator = emulator_of(request)
    authorize(request, emulator.config, _SEND)
    version = api_version(request)
    require_tier(emulator.config, (Tier.STANDARD,), "Scheduled send")
    body = await read_body(request)
    due = parse_schedule_time(request.headers.get("servicebusnotification-scheduletime"))
    now = emulator.config.clock()
    if due > now + SCHEDULE_HORIZON_SECONDS:
        raise EmulatorError(400, "A notification can be scheduled at most 7 days ahead")
    send = parse_send(request.headers, body, direct=False)
    scheduled_id = new_scheduled_id(now)
    location = f"{hub_url(request)}/schedulednotifications/{scheduled_id}?api-version={version}"
    kept = {name: value for name, value in request.headers.items() if name in _KEPT}
    kept.update(send.pns_headers)
    emulator.state.add_scheduled(
        ScheduledSend(scheduled_id, due, send.format, send.content_type, kept, send.body, send.tag_expression, location)
    )
    emulator.state.notifications[scheduled_id] = NotificationRecord(
        scheduled_id, send.format, send.body, send.tag_expression, now, location=location
    )
    return nh_response(request, 201, headers={"Location": location})


async def cancel_scheduled(request: Request) -> Response:
    """200 when a pending scheduled send was cancelled; 404 when there is none with that id."""
    emulator = emulator_of(request)
    authorize(request, emulator.config, _CANCEL)
    api_version(request)
    scheduled_id = str(request.path_params["scheduled_id"])
    if emulator.state.pop_scheduled(scheduled_id) is None:
        raise EmulatorError(404, "The scheduled notification was not found")
    record = emulator.state.notifications.get(scheduled_id)
    if record is not None:
        record.state = "Cancelled"
    return nh_response(request, 200)
