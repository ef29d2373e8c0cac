"""Turning a CloudEvent into the Service Bus message a LoB system publishes, and finding its topic."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared.domain.catalog import CATALOG
from shared.domain.errors import FieldError, ValidationError
from shared.domain.events import EVENT_KEY_SEPARATOR, event_key
from shared.domain.records import OutgoingMessage

__all__ = [
    "CONTENT_TYPE",
    "MAX_MESSAGE_ID_LENGTH",
    "message_id_for",
    "replay_message_id",
    "to_outgoing_message",
    "topic_for",
]

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
MAX_MESSAGE_ID_LENGTH = 128  # Service Bus


def topic_for(event_type: str) -> str:
    """The topic an event type is published to. Raises ValidationError for a type the catalog does not know."""
    entry = CATALOG.get(event_type)
    if entry is None:
        raise ValidationError(f"event type {event_type!r} is not in the catalog", [FieldError("/type", "unknown")])
    return entry.topic


def message_id_for(source: str, event_id: str) -> str:
    """The Service Bus message id of an event: its source-qualified key (duplicate detection must not let one
    system's id drop another's), or, when that is longer than Service Bus allows, the source and a SHA-256 of the id.
    """
    key = event_key(source, event_id)
    if len(key) <= MAX_MESSAGE_ID_LENGTH:
        return key
    digest = hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{source}{EVENT_KEY_SEPARATOR}sha256:{digest}"[:MAX_MESSAGE_ID_LENGTH]


def to_outgoing_message(
    cloud_event: Mapping[str, Any], trace_properties: Mapping[str, str] | None = None
) -> OutgoingMessage:
    """One message per event: message id = ``source#id`` (duplicate detection), subject = type, body = the event.

    ``trace_properties`` (``traceparent`` and ``Diagnostic-Id``) become application properties too, so the
    function that delivers the event continues the publisher's trace.

    Decimals are written as strings (exact; the schemas accept numeric strings), dates in ISO 8601.
    Raises ValidationError when ``id``, ``type`` or ``source`` is missing or not a string.
    """
    attributes = {name: cloud_event.get(name) for name in ("id", "type", "source")}
    missing = [name for name, value in attributes.items() if not isinstance(value, str) or not value]
    if missing:
        raise ValidationError(
            f"the CloudEvent lacks {', '.join(missing)}",
            [FieldError(f"/{name}", "required, a non-empty string") for name in missing],
        )
    event_id, event_type, source = (str(attributes[name]) for name in ("id", "type", "source"))
    body = json.dumps(cloud_event, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    return OutgoingMessage(
        message_id=message_id_for(source, event_id),
        subject=event_type,
        content_type=CONTENT_TYPE,
        body=body.encode("utf-8"),
        application_properties={**(trace_properties or {}), "type": event_type, "source": source},
    )


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def replay_message_id(original: str | None) -> str:
    """A fresh message id for a replayed copy: duplicate detection would drop the original id inside its window.

    The pipeline deduplicates on the CloudEvent id in the body, so a replay never pushes twice.
    """
    return f"{original or 'message'}/replay-{uuid.uuid4().hex[:12]}"[-128:]
