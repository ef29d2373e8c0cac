"""POST /{hub}/messages (tag, broadcast, direct, test), POST messages/$batch, GET messages/{id}."""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import Response

from local.nh_emulator.auth import authorize
from local.nh_emulator.config import Right, Tier
from local.nh_emulator.context import api_version, emulator_of, hub_url, read_body, require_tier
from local.nh_emulator.dispatch import run_direct_send, run_send_async
from local.nh_emulator.multipart import parse_batch
from local.nh_emulator.notifications import parse_send
from local.nh_emulator.state import NotificationRecord
from local.nh_emulator.wire import EmulatorError, new_notification_id, nh_response
from local.nh_emulator.xml_bodies import notification_details_xml, notification_outcome_xml

__all__ = ["get_notification", "send_batch", "send_message"]

_SEND = frozenset({Right.SEND})
_READ_TELEMETRY = frozenset({Right.SEND, Right.MANAGE})


def _flag(request: Request, name: str) -> bool:
    """``&direct`` / ``&direct=true`` (and the same for ``test``) both switch the flag on."""
    value = request.query_params.get(name)
    return value is not None and value.lower() != "false"


def _location(request: Request, notification_id: str, version: str, *, direct: bool) -> str | None:
    if emulator_of(request).config.tier is not Tier.STANDARD:
        return None  # Location and notification ids are Standard-tier features
    suffix = "&direct" if direct else ""
    return f"{hub_url(request)}/messages/{notification_id}?api-version={version}{suffix}"


def _created(request: Request, record: NotificationRecord, *, test: bool) -> Response:
    headers = {"Location": record.location} if record.location else {}
    body = notification_outcome_xml(record) if test else b""
    return nh_response(request, 201, body, headers=headers)


async def send_message(request: Request) -> Response:
    """A send; 201 + Location/TrackingId (with a NotificationOutcome body for test sends)."""
    emulator = emulator_of(request)
    authorize(request, emulator.config, _SEND)
    version = api_version(request)
    body = await read_body(request)
    direct, test = _flag(request, "direct"), _flag(request, "test")
    send = parse_send(request.headers, body, direct=direct)
    notification_id = new_notification_id(emulator.config.clock())
    location = _location(request, notification_id, version, direct=direct)
    if direct:
        handle = request.headers.get("servicebusnotification-devicehandle")
        if not handle:
            raise EmulatorError(400, "A direct send needs the ServiceBusNotification-DeviceHandle header")
        record = run_direct_send(emulator, send, [handle], notification_id, location=location)
    else:
        limit = emulator.config.max_test_send_devices if test else None
        record = await run_send_async(emulator, send, notification_id, location=location, limit=limit)
    if test:
        record.state = "DetailedStateAvailable"
    record.trace_parent = request.headers.get("traceparent")
    return _created(request, record, test=test)


async def send_batch(request: Request) -> Response:
    """A batch direct send (multipart, up to 1000 handles; Basic and Standard tiers)."""
    emulator = emulator_of(request)
    authorize(request, emulator.config, _SEND)
    version = api_version(request)
    require_tier(emulator.config, (Tier.BASIC, Tier.STANDARD), "Batch direct send")
    batch = parse_batch(request.headers.get("content-type", ""), await read_body(request))
    headers = MutableHeaders(raw=list(request.headers.raw))
    headers["content-type"] = batch.content_type
    send = parse_send(Headers(raw=headers.raw), batch.notification, direct=True)
    notification_id = new_notification_id(emulator.config.clock())
    location = _location(request, notification_id, version, direct=True)
    record = run_direct_send(emulator, send, batch.handles, notification_id, location=location)
    return _created(request, record, test=False)


async def get_notification(request: Request) -> Response:
    """Per-message telemetry as NotificationDetails XML (Standard tier only)."""
    emulator = emulator_of(request)
    authorize(request, emulator.config, _READ_TELEMETRY)
    api_version(request)
    require_tier(emulator.config, (Tier.STANDARD,), "Per-message telemetry")
    record = emulator.state.notifications.get(str(request.path_params["notification_id"]))
    if record is None:
        raise EmulatorError(404, "The notification was not found or has not been processed yet")
    return nh_response(request, 200, notification_details_xml(record))
