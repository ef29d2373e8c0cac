"""Parsing LoB events: CloudEvents 1.0 in JSON structured mode, validated against the event catalog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, NoReturn

import pydantic

from shared.domain import strict_json
from shared.domain.catalog import CATALOG, MAX_EVENT_BYTES, LobPayload
from shared.domain.errors import FieldError, ValidationError

__all__ = ["MAX_EVENT_ID_LENGTH", "LobEvent", "PermanentEventError", "ReasonCode", "parse_cloud_event"]

ReasonCode = Literal[
    "invalid_json", "not_a_cloud_event", "unknown_type", "invalid_payload", "source_mismatch", "oversized"
]

MAX_EVENT_ID_LENGTH: Final = 128  # the id becomes the Service Bus message id, which allows 128 characters
_ACCEPTED_MEDIA_TYPES = frozenset({"application/cloudevents+json", "application/json"})
_JSON_DATA_TYPES = ("application/json", "text/json")
_REQUIRED_STRINGS = ("id", "source", "type")


class PermanentEventError(ValidationError):
    """An event that can never be processed as sent; ``reason`` is a machine code, ``detail`` says what is wrong."""

    def __init__(self, reason: ReasonCode, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail, errors)
        self.reason: ReasonCode = reason


@dataclass(frozen=True)
class LobEvent:
    """A validated LoB event: CloudEvent attributes, the typed ``data`` and the whole event as received."""

    id: str
    type: str
    source: str
    time: datetime | None
    data: LobPayload
    raw: dict[str, Any]


def parse_cloud_event(body: bytes, content_type: str | None) -> LobEvent:
    """Parse and validate one structured-mode CloudEvent whose ``data`` matches its catalog entry.

    ``content_type`` may be ``application/cloudevents+json``, ``application/json`` or absent (charset ignored).
    Raises PermanentEventError with reason ``oversized`` (over MAX_EVENT_BYTES), ``not_a_cloud_event``
    (envelope wrong, other media type), ``invalid_json``, ``unknown_type``, ``source_mismatch`` (source is not the
    type's LoB system) or ``invalid_payload`` (``data`` fails the type's schema; ``errors`` names the fields).
    """
    if len(body) > MAX_EVENT_BYTES:
        _fail("oversized", f"the event is {len(body)} bytes; at most {MAX_EVENT_BYTES} are accepted")
    _check_media_type(content_type)
    raw = _load_json(body)
    if not isinstance(raw, dict):
        _fail("not_a_cloud_event", f"a CloudEvent is a JSON object, not a JSON {_json_kind(raw)}")
    event_id, event_type, source, time = _envelope(raw)
    entry = CATALOG.get(event_type)
    if entry is None:
        _fail("unknown_type", f"event type {event_type!r} is not in the catalog", [FieldError("/type", "unknown")])
    if source != entry.source:
        _fail(
            "source_mismatch",
            f"{event_type} events come from {entry.source!r}, not {source!r}",
            [FieldError("/source", f"expected {entry.source!r}")],
        )
    data = _data(raw, body)
    try:
        payload = entry.payload.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = [_field_error(error) for error in exc.errors(include_url=False)]
        fields = ", ".join(error.location for error in errors)
        _fail("invalid_payload", f"data is not a valid {event_type} payload: {fields}", errors)
    return LobEvent(id=event_id, type=event_type, source=source, time=time, data=payload, raw=raw)


def _fail(reason: ReasonCode, detail: str, errors: list[FieldError] | None = None) -> NoReturn:
    raise PermanentEventError(reason, detail, errors)


def _check_media_type(content_type: str | None) -> None:
    if content_type is None or not content_type.strip():
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in _ACCEPTED_MEDIA_TYPES:
        _fail(
            "not_a_cloud_event",
            f"content type {media_type!r} is not a structured-mode CloudEvent (application/cloudevents+json)",
            [FieldError("Content-Type", "expected application/cloudevents+json")],
        )


def _load_json(body: bytes, *, decimal_numbers: bool = False) -> Any:
    try:
        return strict_json.loads(body, decimal_numbers=decimal_numbers)
    except strict_json.UnsafeJsonError as exc:  # not UTF-8 JSON, NaN, duplicate names, too deep, lone surrogates
        _fail("invalid_json", str(exc))


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _envelope(raw: dict[str, Any]) -> tuple[str, str, str, datetime | None]:
    errors: list[FieldError] = []
    if raw.get("specversion") != "1.0":
        errors.append(FieldError("/specversion", 'must be "1.0"'))
    for name in _REQUIRED_STRINGS:
        value = raw.get(name)
        if not isinstance(value, str) or not value:
            errors.append(FieldError(f"/{name}", "required, a non-empty string"))
    event_id = raw.get("id")
    if isinstance(event_id, str) and len(event_id) > MAX_EVENT_ID_LENGTH:
        errors.append(FieldError("/id", f"at most {MAX_EVENT_ID_LENGTH} characters"))
    time = _time(raw.get("time"), errors)
    data_content_type = raw.get("datacontenttype")
    if data_content_type is not None and not _is_json_media_type(data_content_type):
        errors.append(FieldError("/datacontenttype", "data must be JSON (application/json)"))
    if "data_base64" in raw:
        errors.append(FieldError("/data_base64", "binary data is not accepted; send data as a JSON object"))
    if errors:
        fields = ", ".join(error.location for error in errors)
        _fail("not_a_cloud_event", f"the body is not a CloudEvents 1.0 event: {fields}", errors)
    return raw["id"], raw["type"], raw["source"], time


def _time(value: Any, errors: list[FieldError]) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed
    errors.append(FieldError("/time", "an RFC 3339 timestamp with a UTC offset"))
    return None


def _is_json_media_type(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type in _JSON_DATA_TYPES or media_type.endswith("+json")


def _data(raw: dict[str, Any], body: bytes) -> dict[str, Any]:
    if not isinstance(raw.get("data"), dict):
        problem = "missing" if "data" not in raw else f"a JSON {_json_kind(raw['data'])}, not an object"
        _fail("invalid_payload", f"data is {problem}", [FieldError("/data", "required, a JSON object")])
    # Parsed again with Decimal floats so that amounts keep every digit the LoB system sent.
    data: dict[str, Any] = _load_json(body, decimal_numbers=True)["data"]
    return data


def _field_error(error: Any) -> FieldError:
    location = "/data" + "".join(f"/{part}" for part in error["loc"])
    return FieldError(location, str(error["msg"]))
