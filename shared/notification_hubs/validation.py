"""Client-side checks run before any request: installations, patches, notifications, audiences, handles, schedules."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from shared.domain.errors import FieldError
from shared.notification_hubs.errors import NhValidationError
from shared.notification_hubs.expressions import BodyFormat, body_format_for, validate_template
from shared.notification_hubs.identifiers import check_request_size, validate_installation_id, validate_user_id
from shared.notification_hubs.models import WNS_TYPES, Installation, Notification, PatchOperation
from shared.notification_hubs.tag_expressions import parse_tag_expression
from shared.notification_hubs.tags import validate_installation_tags, validate_tag
from shared.notification_hubs.wire import XmlRefusedError, parse_xml

__all__ = [
    "KNOWN_FORMATS",
    "KNOWN_PLATFORMS",
    "MAX_BATCH_HANDLES",
    "MAX_SCHEDULE_AHEAD",
    "check_body_size",
    "located",
    "validate_handle",
    "validate_handles",
    "validate_installation",
    "validate_notification",
    "validate_patch",
    "validate_resource_id",
    "validate_schedule_time",
    "validate_tag_expression",
]

KNOWN_PLATFORMS = frozenset({"apns", "fcmv1", "gcm", "wns", "mpns", "adm", "baidu", "browser", "xiaomi"})
KNOWN_FORMATS = frozenset(
    {"template", "apple", "fcmv1", "gcm", "windows", "windowsphone", "adm", "baidu", "browser", "xiaomi"}
)
MAX_BATCH_HANDLES = 1000
MAX_SCHEDULE_AHEAD = timedelta(days=7)
MAX_TEMPLATE_NAME_LENGTH = 200
_PATCH_OPS = frozenset({"add", "remove", "replace"})
_PATCH_ROOTS = frozenset({"pushChannel", "userId", "tags", "templates", "secondaryTiles"})
_RESERVED_HEADERS = frozenset({"authorization", "content-type", "content-length", "host", "trackingid", "x-ms-version"})
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_FCM_TARGETS = ("token", "topic", "condition")


@contextmanager
def located(location: str) -> Iterator[None]:
    """Re-raise an NhValidationError from inside the block with its most precise location in front of its detail."""
    try:
        yield
    except NhValidationError as exc:
        errors = [
            FieldError(error.location if error.location.startswith(location) else location, error.message)
            for error in exc.errors
        ] or [FieldError(location, exc.detail)]
        raise NhValidationError(f"{errors[0].location}: {exc.detail}", errors) from exc


def _fail(location: str, message: str) -> NhValidationError:
    return NhValidationError(f"{location}: {message}", [FieldError(location, message)])


def validate_installation(installation: Installation) -> None:
    """Check an installation as NH would; raises NhValidationError naming the field at fault."""
    with located("installation/installationId"):
        validate_installation_id(installation.installation_id)
    if installation.platform.lower() not in KNOWN_PLATFORMS:
        raise _fail("installation/platform", f"unknown platform {installation.platform!r}")
    if not installation.push_channel.strip():
        raise _fail("installation/pushChannel", "the push channel must not be empty")
    if installation.user_id is not None:
        with located("installation/userId"):
            validate_user_id(installation.user_id)
    with located("installation/tags"):
        validate_installation_tags(installation.tags)
    body_format = body_format_for(installation.platform.lower())
    for name, template in installation.templates.items():
        where = f"installation/templates/{name}"
        if not name or len(name) > MAX_TEMPLATE_NAME_LENGTH:
            raise _fail(where, f"a template name must have 1 to {MAX_TEMPLATE_NAME_LENGTH} characters")
        with located(f"{where}/body"):
            validate_template(template.body, body_format, location=f"{where}/body")
        with located(f"{where}/tags"):
            # NH adds the template name to the template's tags itself (NH-REST §3.3); a name need not be a valid tag.
            validate_installation_tags([tag for tag in template.tags if tag != name])


def validate_patch(operations: Sequence[PatchOperation]) -> None:
    """Check a JSON-Patch for an installation (NH-REST §3.6); raises NhValidationError naming the operation."""
    if not operations:
        raise _fail("patch", "at least one operation is required")
    for index, operation in enumerate(operations):
        where = f"patch[{index}]"
        if operation.op not in _PATCH_OPS:
            raise _fail(f"{where}/op", f"op must be one of {sorted(_PATCH_OPS)}, not {operation.op!r}")
        segments = operation.path.split("/")
        if len(segments) < 2 or segments[0] or segments[1] not in _PATCH_ROOTS or not all(segments[1:]):
            raise _fail(f"{where}/path", f"{operation.path!r} is not an installation path NH can patch")
        if operation.op == "remove":
            if operation.path.startswith("/tags/"):
                with located(f"{where}/path"):
                    validate_tag(operation.path.removeprefix("/tags/"))
            continue
        if not isinstance(operation.value, str):
            raise _fail(f"{where}/value", f"{operation.op} needs a string value")
        with located(f"{where}/value"):
            _validate_patch_value(segments[1:], operation.value)


def _validate_patch_value(segments: list[str], value: str) -> None:
    if segments == ["userId"]:
        validate_user_id(value)
    elif segments == ["pushChannel"] and not value.strip():
        raise NhValidationError("the push channel must not be empty")
    elif segments[-1] == "tags" and segments[0] in ("tags", "templates"):
        tags = _json_or_fail(value, "tags must be valid JSON") if value.lstrip().startswith("[") else [value]
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise NhValidationError("tags must be one tag or a JSON array of tags")
        validate_installation_tags(tags)
    elif segments[0] == "templates" and len(segments) == 2:
        template = _json_or_fail(value, "the template must be a JSON object encoded as a string")
        if not isinstance(template, dict) or not isinstance(template.get("body"), str):
            raise NhValidationError("the template must be a JSON object with a string body")
        validate_template(template["body"], _guess_format(template["body"]))
    elif segments[0] == "templates" and segments[-1] == "body":
        validate_template(value, _guess_format(value))


def _guess_format(body: str) -> BodyFormat:
    # A patch does not carry the platform: WNS/MPNS template bodies are XML, every other one JSON.
    return BodyFormat.XML if body.lstrip().startswith("<") else BodyFormat.JSON


def validate_notification(notification: Notification) -> None:
    """Check format, PNS headers and the body shape NH needs for the format; raises NhValidationError."""
    fmt = notification.format.lower()
    if fmt not in KNOWN_FORMATS:
        raise _fail("notification/format", f"unknown ServiceBusNotification-Format {notification.format!r}")
    for name, value in notification.headers.items():
        if not _HEADER_NAME.match(name):
            raise _fail(f"notification/headers/{name}", "not a valid HTTP header name")
        lowered = name.lower()
        if lowered in _RESERVED_HEADERS or lowered.startswith("servicebusnotification-"):
            raise _fail(f"notification/headers/{name}", "this header is set by the client and cannot be overridden")
        if "\r" in value or "\n" in value:
            raise _fail(f"notification/headers/{name}", "header values must not contain line breaks")
    if fmt == "template":
        properties = _json_object(notification.body)
        for key, value in properties.items():
            if not isinstance(value, str):
                raise _fail(f"notification/body/{key}", "template properties must be strings")
    elif fmt == "apple":
        _json_object(notification.body)
    elif fmt == "fcmv1":
        _validate_fcmv1(_json_object(notification.body))
    elif fmt == "windows":
        _validate_windows(notification)


def _json_object(body: str) -> dict[str, Any]:
    value = _json_or_fail(body, "the body must be JSON", "notification/body")
    if not isinstance(value, dict):
        raise _fail("notification/body", "the body must be a JSON object")
    return value


def _json_or_fail(text: str, message: str, location: str | None = None) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        if location is None:
            raise NhValidationError(message) from exc
        raise _fail(location, message) from exc


def _validate_fcmv1(envelope: Mapping[str, Any]) -> None:
    message = envelope.get("message")
    if set(envelope) != {"message"} or not isinstance(message, dict):
        raise _fail("notification/body", 'an fcmv1 body must be {"message": {...}} and nothing else')
    for target in _FCM_TARGETS:
        if target in message:
            raise _fail(f"notification/body/message/{target}", "NH fills the target itself; leave it out")
    _string_only(message.get("data"), "notification/body/message/data")
    android = message.get("android")
    if isinstance(android, dict):
        _string_only(android.get("data"), "notification/body/message/android/data")


def _string_only(data: Any, location: str) -> None:
    if data is None:
        return
    if not isinstance(data, dict):
        raise _fail(location, "data must be an object of string values")
    for key, value in data.items():
        if not isinstance(value, str):
            raise _fail(f"{location}/{key}", f"FCM v1 data values must be strings, not {type(value).__name__}")


def _validate_windows(notification: Notification) -> None:
    wns_type = next((v for k, v in notification.headers.items() if k.lower() == "x-wns-type"), None)
    if wns_type not in WNS_TYPES:
        raise _fail("notification/headers/X-WNS-Type", f"required, one of {sorted(WNS_TYPES)}")
    content_type = notification.content_type.split(";")[0].strip().lower()
    expected = "application/octet-stream" if wns_type == "wns/raw" else "application/xml"
    if content_type != expected:
        raise _fail("notification/content_type", f"{wns_type} needs {expected}, not {notification.content_type!r}")
    if wns_type != "wns/raw":
        try:
            parse_xml(notification.body)
        except XmlRefusedError as exc:
            raise _fail("notification/body", str(exc)) from exc


# Remembers the expressions that passed (a call that raises is not cached): sends repeat the same audiences, and
# parsing one costs more than all of a send's other checks.
@functools.lru_cache(maxsize=1024)
def validate_tag_expression(expression: str) -> None:
    """Check a tag or tag expression (grammar and limits); raises NhValidationError with the position at fault."""
    with located("ServiceBusNotification-Tags"):
        parse_tag_expression(expression)


def validate_handle(handle: str, location: str = "handle") -> None:
    """A PNS handle must be a non-empty single-line string; raises NhValidationError."""
    if not isinstance(handle, str) or not handle.strip():
        raise _fail(location, "a device handle must be a non-empty string")
    if "\r" in handle or "\n" in handle:
        raise _fail(location, "a device handle must not contain line breaks")


def validate_handles(handles: Sequence[str]) -> None:
    """A direct batch needs 1 to 1000 valid handles; raises NhValidationError."""
    if isinstance(handles, str) or not 1 <= len(handles) <= MAX_BATCH_HANDLES:
        raise _fail("handles", f"a direct batch needs 1 to {MAX_BATCH_HANDLES} handles")
    for index, handle in enumerate(handles):
        validate_handle(handle, f"handles[{index}]")


def validate_resource_id(value: str, location: str) -> None:
    """Notification and scheduled ids go in a URL path: non-empty, no slashes; raises NhValidationError."""
    if not isinstance(value, str) or not value.strip() or "/" in value:
        raise _fail(location, "must be a non-empty id without '/'")


def validate_schedule_time(at: datetime, now: datetime) -> None:
    """A schedule time must carry a time zone and lie at most 7 days after ``now``; raises NhValidationError."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise _fail("schedule_time", "the time must carry a time zone (NH schedules in UTC)")
    if at - now > MAX_SCHEDULE_AHEAD:
        raise _fail("schedule_time", f"NH schedules at most {MAX_SCHEDULE_AHEAD.days} days ahead")


def check_body_size(body: bytes) -> None:
    """Refuse bodies over NH's 64 KB request cap; raises NhValidationError."""
    with located("body"):
        check_request_size(body)
