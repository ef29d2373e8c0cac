"""Trigger input as the Functions host hands it to the Python worker, decoded by azure.functions' own converters.

For every invocation the host sends the worker the trigger's data and, except for HTTP, the trigger metadata (the
binding data of the extension) as gRPC ``TypedData``; the worker turns each into a ``meta.Datum`` and calls the
binding's ``InConverter.decode`` from the azure-functions library. The dev host builds the same Datums and calls the
same converters (``azure.functions.get_binding_registry()``), so a function here gets what it would get in Azure,
including the host's quirks:

- Service Bus (extension 5.x, ``ServiceBusTriggerBindingStrategy``): the keys below; ``int`` and ``long`` scalars,
  ``DateTime`` and dictionaries travel as JSON (``"1"``, ``"\"2026-11-22T10:15:30.1234567\""``), strings as
  strings, null values not at all. ``EnqueuedTimeUtc`` and ``ExpiresAtUtc`` are ``DateTimeOffset.DateTime``, a
  time without zone, which the library turns into a naive ``datetime``; a message without expiry expires at
  ``DateTime.MaxValue``. There is no ``LockedUntil``, ``TimeToLive`` or ``State``. The body is a string (UTF-8 with
  replacement characters) unless the binding says ``dataType: binary``. Batches get ``...Array`` keys: ``string[]``
  as a string collection that leaves out null and empty entries (as the host does without the
  IncludeEmptyEntriesInMessagePayload capability, which the Python worker does not declare), ``long[]`` as a sint64
  collection, the rest as JSON arrays. The settlement and client objects the host also sends (MessageActions,
  Client, ...) carry no message data and are left out.
- HTTP (RpcHttp with the worker's RawHttpBodyBytes, RpcHttpBodyOnly and RpcHttpTriggerMetadataRemoved capabilities):
  method, url, lower-case headers and query values (repeated keys joined with a comma, empty query values left
  out), route parameters, the body as bytes; no trigger metadata.
- Timer: the TimerInfo JSON ``{"Schedule": {"AdjustForDST": true}, "ScheduleStatus": {...} | null,
  "IsPastDue": ...}``.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.functions.meta import Datum, InConverter, get_binding_registry

from shared.domain.errors import ConfigError

__all__ = [
    "BrokerMessage",
    "check_annotation",
    "decode",
    "http_input",
    "service_bus_batch_input",
    "service_bus_input",
    "timer_input",
]

_NET_MAX = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


@dataclass(frozen=True)
class BrokerMessage:
    """What the Service Bus extension reads from a received message (``ServiceBusReceivedMessage``)."""

    message_id: str
    body: bytes
    delivery_count: int
    sequence_number: int
    enqueued_time: datetime
    lock_token: str
    expires_at: datetime | None = None
    content_type: str | None = None
    correlation_id: str | None = None
    subject: str | None = None
    reply_to: str | None = None
    to: str | None = None
    session_id: str | None = None
    reply_to_session_id: str | None = None
    partition_key: str | None = None
    transaction_partition_key: str | None = None
    dead_letter_source: str | None = None
    application_properties: Mapping[str, Any] = field(default_factory=dict)


class _Collection:
    """A protobuf repeated field as the worker reads it: ``.string``, ``.sint64`` or ``.bytes``."""

    def __init__(self, **values: list[Any]) -> None:
        for name, items in values.items():
            setattr(self, name, items)


def _json(value: Any) -> Datum:
    return Datum(json.dumps(value, separators=(",", ":")), "json")


def _strings(values: Iterable[str | None]) -> Datum:
    return Datum(_Collection(string=[value for value in values if value]), "collection_string")


def _net_time(moment: datetime | None, *, offset: bool) -> str:
    """A .NET DateTime (zone-less) or DateTimeOffset as Json.NET writes it: 7 fraction digits, zeros trimmed."""
    moment = (moment or _NET_MAX).astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    ticks = f"{moment.microsecond * 10:07d}".rstrip("0") if moment != _NET_MAX else "9999999"
    return text + (f".{ticks}" if ticks else "") + ("+00:00" if offset else "")


def _body(message: BrokerMessage, binary: bool) -> bytes | str:
    return message.body if binary else message.body.decode("utf-8", errors="replace")


def _message_fields(message: BrokerMessage) -> dict[str, Any]:
    """The extension's binding data of one message, in its order; None where the message has no value."""
    return {
        "DeliveryCount": message.delivery_count,
        "DeadLetterSource": message.dead_letter_source,
        "LockToken": message.lock_token,
        "ExpiresAtUtc": _net_time(message.expires_at, offset=False),
        "ExpiresAt": _net_time(message.expires_at, offset=True),
        "EnqueuedTimeUtc": _net_time(message.enqueued_time, offset=False),
        "EnqueuedTime": _net_time(message.enqueued_time, offset=True),
        "MessageId": message.message_id,
        "ContentType": message.content_type,
        "ReplyTo": message.reply_to,
        "SequenceNumber": message.sequence_number,
        "To": message.to,
        "Subject": message.subject,
        "Label": message.subject,
        "CorrelationId": message.correlation_id,
        "ApplicationProperties": dict(message.application_properties),
        "UserProperties": dict(message.application_properties),
        "SessionId": message.session_id,
        "ReplyToSessionId": message.reply_to_session_id,
        "PartitionKey": message.partition_key,
        "TransactionPartitionKey": message.transaction_partition_key,
    }


_JSON_SCALARS = frozenset(
    {"DeliveryCount", "SequenceNumber", "ExpiresAtUtc", "ExpiresAt", "EnqueuedTimeUtc", "EnqueuedTime"}
)


def service_bus_input(message: BrokerMessage, *, binary: bool = False) -> tuple[Datum, dict[str, Datum]]:
    """The data and trigger metadata of a single-message Service Bus invocation."""
    body = _body(message, binary)
    data = Datum(body, "bytes" if isinstance(body, bytes) else "string")
    metadata: dict[str, Datum] = {}
    for key, value in _message_fields(message).items():
        if value is None:
            continue
        metadata[key] = _json(value) if key in _JSON_SCALARS or isinstance(value, dict) else Datum(value, "string")
    return data, metadata


_SINT64_ARRAYS = frozenset({"SequenceNumber"})


def service_bus_batch_input(
    messages: Sequence[BrokerMessage], *, binary: bool = False
) -> tuple[Datum, dict[str, Datum]]:
    """The data and trigger metadata of a batch (cardinality "many") Service Bus invocation."""
    bodies = [_body(message, binary) for message in messages]
    if binary:
        data = Datum(_Collection(bytes=[body for body in bodies if body is not None]), "collection_bytes")
    else:
        data = _strings(str(body) for body in bodies)
    per_message = [_message_fields(message) for message in messages]
    metadata: dict[str, Datum] = {}
    for key in per_message[0] if per_message else ():
        values = [fields[key] for fields in per_message]
        if key in _SINT64_ARRAYS:
            metadata[f"{key}Array"] = Datum(_Collection(sint64=list(values)), "collection_sint64")
        elif key in _JSON_SCALARS or key in ("ApplicationProperties", "UserProperties"):
            metadata[f"{key}Array"] = _json(values)
        else:
            metadata[f"{key}Array"] = _strings(values)
    return data, metadata


def http_input(
    *,
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    query: Iterable[tuple[str, str]],
    route_params: Mapping[str, str],
    body: bytes,
) -> Datum:
    """An HTTP trigger's data (RpcHttp as the Python worker receives it)."""
    joined_headers: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        joined_headers[key] = f"{joined_headers[key]},{value}" if key in joined_headers else value
    joined_query: dict[str, str] = {}
    for name, value in query:
        joined_query[name] = f"{joined_query[name]},{value}" if name in joined_query else value
    return Datum(
        {
            "method": Datum(method, "string"),
            "url": Datum(url, "string"),
            "headers": {name: Datum(value, "string") for name, value in joined_headers.items()},
            "query": {name: Datum(value, "string") for name, value in joined_query.items() if value},
            "params": {name: Datum(value, "string") for name, value in route_params.items()},
            "body": Datum(body, "bytes"),
        },
        "http",
    )


def timer_input(*, past_due: bool, schedule_status: Mapping[str, Any] | None) -> Datum:
    """A timer trigger's data: the host's TimerInfo as JSON (ScheduleStatus is null without useMonitor)."""
    info = {
        "Schedule": {"AdjustForDST": True},
        "ScheduleStatus": dict(schedule_status) if schedule_status is not None else None,
        "IsPastDue": past_due,
    }
    return _json(info)


def decode(binding: str, data: Datum, trigger_metadata: Mapping[str, Datum] | None = None) -> Any:
    """Decode with the converter azure.functions registers for ``binding`` (the worker's own call).

    Raises ConfigError for a binding the library has no input converter for.
    """
    converter = _converter(binding)
    if converter is None:
        raise ConfigError(f"azure.functions has no input converter for {binding!r} bindings")
    return converter.decode(data, trigger_metadata=trigger_metadata or {})


def check_annotation(binding: str, annotation: Any) -> bool:
    """True when the converter for ``binding`` accepts a parameter annotated ``annotation`` (the worker checks
    this when it loads a function); unannotated parameters are accepted."""
    converter = _converter(binding)
    if converter is None:
        return False
    if annotation is None or annotation is Any or isinstance(annotation, str):
        return True
    origin = typing.get_origin(annotation)
    if isinstance(origin, type) and issubclass(origin, Iterable) and typing.get_args(annotation):
        # list[func.ServiceBusMessage] for a batch: the library's own check only knows typing.List, so the items
        # are checked one by one instead.
        return all(_accepts(converter, item) for item in typing.get_args(annotation))
    return _accepts(converter, annotation)


def _accepts(converter: type[InConverter], annotation: Any) -> bool:
    return isinstance(annotation, type) and bool(converter.check_input_type_annotation(annotation))


def _converter(binding: str) -> type[InConverter] | None:
    registry: Any = get_binding_registry()  # type: ignore[no-untyped-call]  # untyped in azure-functions
    found = registry.get(binding)
    return found if isinstance(found, type) and issubclass(found, InConverter) else None
