"""Responses shaped like Notification Hubs': tracking headers, XML <Error> bodies, ids and timestamps."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "XML_CONTENT_TYPE",
    "EmulatorError",
    "error_response",
    "iso_time",
    "new_notification_id",
    "new_scheduled_id",
    "nh_response",
    "nh_timestamp",
    "tracking_id_of",
]

XML_CONTENT_TYPE = "application/xml; charset=utf-8"


class EmulatorError(Exception):
    """An NH error answer: status, detail text, and whether NH sends it with an empty body."""

    def __init__(self, status: int, detail: str, *, empty_body: bool = False, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.empty_body = empty_body
        self.retry_after = retry_after


def tracking_id_of(request: Request) -> str:
    """The caller's TrackingId header echoed back, or a fresh one (recorded responses always carry one)."""
    return request.headers.get("trackingid") or str(uuid.uuid4())


def nh_timestamp(now: datetime) -> str:
    """NH's error-detail timestamp, e.g. ``11/7/2018 12:18:37 AM``."""
    hour = now.hour % 12 or 12
    suffix = "AM" if now.hour < 12 else "PM"
    return f"{now.month}/{now.day}/{now.year} {hour}:{now.minute:02d}:{now.second:02d} {suffix}"


def iso_time(epoch: float) -> str:
    """UTC ISO-8601 with a Z, to the second, as NH telemetry writes it."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def nh_response(
    request: Request,
    status: int,
    body: bytes | str = b"",
    *,
    headers: dict[str, str] | None = None,
    content_type: str = XML_CONTENT_TYPE,
) -> Response:
    """A response with NH's standard headers (TrackingId, x-ms-correlation-request-id, HSTS)."""
    all_headers = {
        "TrackingId": tracking_id_of(request),
        "x-ms-correlation-request-id": str(uuid.uuid4()),
        "Strict-Transport-Security": "max-age=31536000",
    }
    all_headers.update(headers or {})
    return Response(content=body, status_code=status, headers=all_headers, media_type=content_type)


def error_response(request: Request, error: EmulatorError) -> Response:
    """Render ``error`` as NH does: ``<Error><Code/><Detail>…TrackingId:…,TimeStamp:…</Detail></Error>``."""
    tracking_id = tracking_id_of(request)
    headers = {"TrackingId": tracking_id}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if error.empty_body:
        return nh_response(request, error.status, headers=headers)
    detail = f"{error.detail}.TrackingId:{tracking_id},TimeStamp:{nh_timestamp(datetime.now(UTC))}"
    body = f"<Error><Code>{error.status}</Code><Detail>{escape(detail)}</Detail></Error>"
    return nh_response(request, error.status, body, headers=headers)


def new_notification_id(now: float) -> str:
    """An id in NH's shape: ``{32 hex}-{yyyyMMddHHmmss}-{n}-{n}``."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H%M%S")
    return f"{uuid.uuid4().hex}-{stamp}-{secrets.randbelow(999_999)}-{secrets.randbelow(99) + 1}"


def new_scheduled_id(now: float) -> str:
    """A scheduled-notification id in NH's recorded shape (hex, timestamp, counters, queue suffix)."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H%M%S")
    return f"{uuid.uuid4().hex}_{stamp}_{secrets.randbelow(99_999_999)}_1_QNHQueue-S{secrets.randbelow(10**17)}"
