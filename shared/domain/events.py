"""Parsing LoB events: CloudEvents 1.0 in JSON structured mode, validated against the event catalog."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Final, Literal, NoReturn

import pydantic
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from shared.domain import strict_json
from shared.domain.catalog import CATALOG, MAX_EVENT_BYTES, LobPayload
from shared.domain.catalog.data_rules import data_problems
from shared.domain.catalog.wire_types import Matches, Rfc3339DateTime
from shared.domain.errors import FieldError, ValidationError

__all__ = [
    "EVENT_KEY_SEPARATOR",
    "JSON_MEDIA_TYPE_PATTERN",
    "MAX_EVENT_ID_LENGTH",
    "CloudEventEnvelope",
    "LobEvent",
    "PermanentEventError",
    "ReasonCode",
    "event_key",
    "parse_cloud_event",
]

ReasonCode = Literal[
    "invalid_json",
    "not_a_cloud_event",
    "unknown_type",
    "invalid_payload",
    "source_mismatch",
    "oversized",
    "link_not_allowed",
]

MAX_EVENT_ID_LENGTH: Final = 128  # the id becomes the Service Bus message id, which allows 128 characters
_ACCEPTED_MEDIA_TYPES = frozenset({"application/cloudevents+json", "application/json"})
_JSON_DATA_TYPES = ("application/json", "text/json")
_REQUIRED_STRINGS = ("id", "source", "type")
# Between source and id in an event key; no LoB source contains it (tests/unit/test_events.py checks TOPICS).
EVENT_KEY_SEPARATOR: Final = "#"
NOTIFICATION_ID_CHARS: Final = 32


def event_key(source: str, event_id: str) -> str:
    """What identifies one event across LoB systems: CloudEvents 1.0 makes ``source`` + ``id`` unique, not ``id``
    alone, so ``/lob/hr``'s event "42" and ``/lob/finance``'s "42" are two events (``/lob/hr#42``)."""
    return f"{source}{EVENT_KEY_SEPARATOR}{event_id}"


def notification_id(key: str) -> str:
    """The id of what an event becomes for its recipient (inbox entry, in-app message, secure content): the first 32
    hex digits (128 bits) of the SHA-256 of the event's key. Two systems' events with one id stay two notifications;
    every redelivery of an event finds its own; and the id is safe in a URL and a Tables key whatever the event id."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:NOTIFICATION_ID_CHARS]


def _any_case(text: str) -> str:
    return "".join(f"[{c.upper()}{c}]" if c.isalpha() else re.escape(c) for c in text)


_NAME = "[A-Za-z0-9!#$&^_.+-]+"  # RFC 6838 type and subtype names
# ``datacontenttype``: JSON as application/json, text/json or a +json type, any case, parameters allowed.
JSON_MEDIA_TYPE_PATTERN: Final = (
    rf"^(?:{_any_case('application/json')}|{_any_case('text/json')}|{_NAME}/{_NAME}{_any_case('+json')})"
    r"(?:[ \t]*;[\t -~]*)?$"
)


def _refuse_binary(_value: Any) -> None:
    raise ValueError("binary data is not accepted; send data as a JSON object")


_JSON_MEDIA_TYPE = Matches(JSON_MEDIA_TYPE_PATTERN, "data must be JSON: application/json, text/json or a +json type")


def _binary_data_is_refused(schema: dict[str, Any]) -> None:
    schema["properties"]["data_base64"] = False


# CloudEvents 1.0 types an attribute as Boolean, Integer (32-bit signed), String, Binary, URI, URI-reference or
# Timestamp; in the JSON format every one of them is a JSON boolean, integer or string, and null means absent.
# JSON Schema counts 7.0 as an integer, so an integral fraction is read as the integer it equals.


def _integral_number(value: object) -> object:
    if isinstance(value, float | Decimal) and math.isfinite(value) and value == int(value):
        return int(value)
    return value


ExtensionValue = Annotated[
    StrictBool | Annotated[StrictInt, Field(ge=-(2**31), le=2**31 - 1)] | StrictStr | None,
    BeforeValidator(_integral_number),
]


class CloudEventEnvelope(BaseModel):
    """The CloudEvents 1.0 attributes ``parse_cloud_event`` checks, as the contract publishes them.

    ``data`` is checked by the payload model of the event's type. Extension attributes are allowed and kept when
    their values are of the CloudEvents type system (a JSON boolean, 32-bit integer or string; objects, arrays and
    fractions are refused); ``data_base64`` (binary data) is refused whatever its value.
    """

    model_config = ConfigDict(extra="allow", frozen=True, json_schema_extra=_binary_data_is_refused)
    __pydantic_extra__: dict[str, ExtensionValue] = Field(init=False)

    specversion: Literal["1.0"]
    id: str = Field(min_length=1, max_length=MAX_EVENT_ID_LENGTH)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: Rfc3339DateTime | None = None
    datacontenttype: Annotated[str, _JSON_MEDIA_TYPE] | None = None
    data_base64: Annotated[None, BeforeValidator(_refuse_binary)] = None
    data: Any = Field(default=None, description="checked by the payload model of the event's type")


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

    @property
    def key(self) -> str:
        """The event's source-qualified id: the delivery log's key, so one system cannot pre-empt another's id."""
        return event_key(self.source, self.id)

    @property
    def notification_id(self) -> str:
        """The id of the notification this event makes for its recipient (see :func:`notification_id`)."""
        return notification_id(self.key)


def parse_cloud_event(body: bytes, content_type: str | None) -> LobEvent:
    """Parse and validate one structured-mode CloudEvent whose ``data`` matches its catalog entry.

    ``content_type`` may be ``application/cloudevents+json``, ``application/json`` or absent (charset ignored).
    Raises PermanentEventError with reason ``oversized`` (over MAX_EVENT_BYTES), ``not_a_cloud_event``
    (envelope wrong, other media type), ``invalid_json``, ``unknown_type``, ``source_mismatch`` (source is not the
    type's LoB system), ``invalid_payload`` (``data`` fails the type's schema; ``errors`` names the fields) or
    ``link_not_allowed`` (a link in ``data`` points outside the system's allowlist, catalog/links.py).
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
        payload = entry.payload.model_validate(data, by_alias=True, by_name=False)
    except pydantic.ValidationError as exc:
        errors = [_field_error(error) for error in exc.errors(include_url=False)]
        fields = ", ".join(error.location for error in errors)
        _fail("invalid_payload", f"data is not a valid {event_type} payload: {fields}", errors)
    refused = data_problems(entry, data)
    if refused:
        fields = ", ".join(error.location for error in refused)
        _fail("link_not_allowed", f"data links where {source} may not send people: {fields}", refused)
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
    try:
        envelope = CloudEventEnvelope.model_validate(raw)
    except pydantic.ValidationError as exc:
        errors = [_attribute_error(error) for error in exc.errors(include_url=False)]
        fields = ", ".join(dict.fromkeys(error.location for error in errors))
        _fail("not_a_cloud_event", f"the body is not a CloudEvents 1.0 event: {fields}", errors)
    return envelope.id, envelope.type, envelope.source, envelope.time


def _attribute_error(error: Any) -> FieldError:
    location = "/" + str(error["loc"][0]) if error["loc"] else "/"
    return FieldError(location, str(error["msg"]).removeprefix("Value error, "))


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
