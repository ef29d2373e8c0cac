"""NH wire formats: safe XML reading, error responses, Retry-After, Location ids, the direct-batch multipart body."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

import httpx

from shared.notification_hubs.errors import (
    NhAuthenticationError,
    NhForbiddenError,
    NhInvalidRequestError,
    NhNotFoundError,
    NhRequestError,
    NhThrottledError,
    NhTransientError,
)
from shared.notification_hubs.models import (
    NhResponse,
    NotificationDetails,
    NotificationOutcome,
    RegistrationResult,
    ScheduledSendResult,
    SendResult,
)

__all__ = [
    "XmlRefusedError",
    "batch_body",
    "error_for_response",
    "id_from_location",
    "json_body",
    "nh_response",
    "parse_notification_details",
    "parse_notification_outcome",
    "parse_retry_after",
    "parse_xml",
    "schedule_time_header",
    "scheduled_result",
    "send_result",
    "unreadable_error",
]

_MAX_DETAIL_CHARS = 1000
_TRANSIENT_STATUSES = frozenset({408})


class XmlRefusedError(ValueError):
    """The document is not well-formed XML, or it declares a DTD or entities (refused to stay safe)."""


def parse_xml(document: bytes | str) -> Element:
    """Parse XML with expat, refusing any DOCTYPE or entity declaration; tags and attributes lose their namespaces.

    Raises XmlRefusedError.
    """
    builder = TreeBuilder()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True

    def refuse(*_: object) -> None:
        raise XmlRefusedError("DTDs and entity declarations are not accepted")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    parser.StartElementHandler = lambda name, attrs: builder.start(
        _local(name), {_local(key): value for key, value in attrs.items()}
    )
    parser.EndElementHandler = lambda name: builder.end(_local(name))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(document, True)
        return builder.close()
    except expat.ExpatError as exc:
        raise XmlRefusedError(f"not well-formed XML: {exc}") from exc
    except AssertionError as exc:  # TreeBuilder.close() on an empty document
        raise XmlRefusedError("empty XML document") from exc


def _local(name: str) -> str:
    return name.rsplit(" ", 1)[-1]


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date, relative to ``now``); None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(text).timestamp() - now
        except (TypeError, ValueError):
            return None
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def error_detail(response: httpx.Response) -> str | None:
    """NH's ``<Error><Detail>`` text, else the start of a non-XML body, else None (many errors have no body)."""
    text = response.content.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    try:
        root = parse_xml(text)
    except XmlRefusedError:
        return text[:_MAX_DETAIL_CHARS]
    detail = root.findtext("Detail") if root.tag == "Error" else None
    return (detail or "").strip()[:_MAX_DETAIL_CHARS] or None


def error_for_response(operation: str, response: httpx.Response, *, now: float) -> NhRequestError:
    """The error class for an unexpected NH status (see errors.py for the mapping)."""
    status = response.status_code
    detail = error_detail(response)
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
    tracking_id = response.headers.get("TrackingId")
    message = f"{operation} failed with HTTP {status}" + (f": {detail}" if detail else "")
    error_class: type[NhRequestError]
    if status == 401:
        error_class = NhAuthenticationError
    elif status == 403:
        # Throttling and quota answers carry Retry-After; missing rights and tier features do not (NH-REST §4.3).
        error_class = NhThrottledError if "Retry-After" in response.headers else NhForbiddenError
    elif status == 429:
        error_class = NhThrottledError
    elif status == 404:
        error_class = NhNotFoundError
    elif status in (400, 413):
        error_class = NhInvalidRequestError
    elif status >= 500 or status in _TRANSIENT_STATUSES:
        error_class = NhTransientError
    else:
        error_class = NhRequestError
    return error_class(message, status_code=status, detail=detail, tracking_id=tracking_id, retry_after=retry_after)


def id_from_location(location: str | None, collection: str) -> str | None:
    """The last path segment of a Location URL, unless it is ``collection`` itself or ``$batch`` (NH-REST §4.3)."""
    if not location:
        return None
    segments = [unquote(segment) for segment in urlsplit(location).path.split("/") if segment]
    if not segments or segments[-1] in (collection, "$batch"):
        return None
    return segments[-1]


def batch_body(content_type: str, body: str, handles: Sequence[str]) -> tuple[str, bytes]:
    """The multipart/mixed content type and body of a direct batch send, exactly as NH-REST §4.5 shows it."""
    encoded_body = body.encode("utf-8")
    devices = json.dumps(list(handles), separators=(",", ":")).encode("utf-8")
    boundary = f"nh-batch-{uuid.uuid4().hex}"
    while boundary.encode() in encoded_body or boundary.encode() in devices:  # pragma: no cover - 2**-122 odds
        boundary = f"nh-batch-{uuid.uuid4().hex}"
    delimiter = f"--{boundary}\r\n".encode()
    content = b"".join(
        [
            delimiter,
            f"Content-Type: {content_type}\r\n".encode(),
            b"Content-Disposition: inline; name=notification\r\n\r\n",
            encoded_body,
            b"\r\n",
            delimiter,
            b"Content-Type: application/json\r\n",
            b"Content-Disposition: inline; name=devices\r\n\r\n",
            devices,
            b"\r\n",
            f"--{boundary}--".encode(),
        ]
    )
    return f"multipart/mixed; boundary={boundary}", content


def parse_notification_outcome(document: bytes) -> NotificationOutcome:
    """Read a test send's ``<NotificationOutcome>``; raises XmlRefusedError or ValueError on a bad document."""
    root = _root(document, "NotificationOutcome")
    results = [
        RegistrationResult(
            application_platform=_text(item, "ApplicationPlatform"),
            pns_handle=_text(item, "PnsHandle"),
            registration_id=_text(item, "RegistrationId"),
            outcome=_text(item, "Outcome"),
        )
        for item in root.iterfind("Results/RegistrationResult")
    ]
    return NotificationOutcome(
        success=int(_text(root, "Success") or 0), failure=int(_text(root, "Failure") or 0), results=results
    )


def parse_notification_details(document: bytes) -> NotificationDetails:
    """Read ``<NotificationDetails>`` telemetry, every ``*OutcomeCounts`` container included.

    Raises XmlRefusedError or ValueError on a bad document.
    """
    root = _root(document, "NotificationDetails")
    counts: dict[str, dict[str, int]] = {}
    for container in root:
        if not container.tag.endswith("OutcomeCounts"):
            continue
        outcomes = {
            name: int(_text(outcome, "Count") or 0)
            for outcome in container.iterfind("Outcome")
            if (name := _text(outcome, "Name"))
        }
        if outcomes:
            counts[container.tag.removesuffix("OutcomeCounts").lower()] = outcomes
    return NotificationDetails(
        notification_id=_text(root, "NotificationId"),
        location=_text(root, "Location"),
        state=_text(root, "State"),
        enqueue_time=_text(root, "EnqueueTime"),
        start_time=_text(root, "StartTime"),
        end_time=_text(root, "EndTime"),
        body=_text(root, "NotificationBody", strip=False),
        tags=_text(root, "Tags"),
        target_platforms=_text(root, "TargetPlatforms"),
        outcome_counts=counts,
        pns_error_details_uri=_text(root, "PnsErrorDetailsUri"),
    )


def _root(document: bytes, expected: str) -> Element:
    root = parse_xml(document)
    if root.tag != expected:
        raise ValueError(f"expected <{expected}>, got <{root.tag}>")
    return root


def _text(element: Element, child: str, *, strip: bool = True) -> str | None:
    found = element.find(child)
    if found is None or found.text is None:
        return None
    return found.text.strip() if strip else found.text


def json_body(value: Any) -> bytes:
    """Compact UTF-8 JSON, as NH's SDKs send it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def schedule_time_header(at: datetime) -> str:
    """ServiceBusNotification-ScheduleTime in UTC, like JS ``toISOString()`` (NH-REST §4.6)."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def nh_response(response: httpx.Response) -> NhResponse:
    """TrackingId (NH's, else the one we sent), correlation id and Location of a successful answer."""
    return NhResponse(
        tracking_id=response.headers.get("TrackingId") or response.request.headers.get("TrackingId"),
        correlation_id=response.headers.get("x-ms-correlation-request-id"),
        location=response.headers.get("Location"),
    )


def send_result(response: httpx.Response) -> SendResult:
    """An accepted send, its notification id taken from Location."""
    base = nh_response(response)
    return SendResult(base.tracking_id, base.correlation_id, base.location, id_from_location(base.location, "messages"))


def scheduled_result(response: httpx.Response) -> ScheduledSendResult:
    """An accepted scheduled send, its scheduled id taken from Location."""
    base = nh_response(response)
    scheduled_id = id_from_location(base.location, "schedulednotifications")
    return ScheduledSendResult(base.tracking_id, base.correlation_id, base.location, scheduled_id)


def unreadable_error(operation: str, response: httpx.Response, what: str) -> NhRequestError:
    """The error for a success status whose body cannot be read."""
    return NhRequestError(
        f"{operation}: NH answered HTTP {response.status_code} with unreadable {what}",
        status_code=response.status_code,
        tracking_id=response.headers.get("TrackingId"),
    )
