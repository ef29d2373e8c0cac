"""A Service Bus message as the use cases receive it, what became of it, and the quarantine for messages that can
never be delivered as they are."""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shared.domain.errors import UpstreamUnavailableError
from shared.domain.events import LobEvent, PermanentEventError, parse_cloud_event
from shared.domain.publishing import topic_for
from shared.domain.records import QuarantinedMessage
from shared.ports import DeliveryPorts
from shared.usecases.decisions import note_quarantined

__all__ = [
    "DeliveryInProgressError",
    "DispatchResult",
    "IncomingMessage",
    "quarantine",
    "quarantine_id",
    "quarantined_message",
    "route_message",
]

logger = logging.getLogger(__name__)


class DispatchResult(StrEnum):
    SENT = "sent"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    QUARANTINED = "quarantined"


class DeliveryInProgressError(UpstreamUnavailableError):
    """Another delivery of the same event holds a fresh claim; the bus should redeliver later."""


@dataclass(frozen=True)
class IncomingMessage:
    """A Service Bus message as the trigger hands it over, without the azure.functions type."""

    topic: str
    subscription: str
    message_id: str | None
    body: bytes
    content_type: str | None = None
    subject: str | None = None
    application_properties: dict[str, str] = field(default_factory=dict)
    delivery_count: int = 1
    enqueued_time: datetime | None = None


def quarantine_id(message: IncomingMessage) -> str:
    """Stable for one message on one subscription, so a redelivered poison message is recorded once."""
    if message.message_id is None:
        return "q-" + uuid.uuid4().hex
    key = f"{message.topic}/{message.subscription}/{message.message_id}".encode()
    return "q-" + hashlib.sha256(key).hexdigest()[:32]


async def route_message(message: IncomingMessage, ports: DeliveryPorts, *, check_topic: bool = True) -> LobEvent | None:
    """The message's event, or None after quarantining a message that can never be delivered as it is."""
    try:
        event = parse_cloud_event(message.body, message.content_type)
    except PermanentEventError as exc:
        await quarantine(ports, message, exc.reason, exc.detail)
        return None
    if check_topic:
        ports.metrics.event_received(event.type)
    expected_topic = topic_for(event.type)
    if check_topic and expected_topic != message.topic:
        detail = f"event type {event.type!r} belongs on topic {expected_topic!r}, not {message.topic!r}"
        await quarantine(ports, message, "unroutable", detail)
        return None
    return event


def quarantined_message(message: IncomingMessage, reason: str, description: str, at: datetime) -> QuarantinedMessage:
    """The quarantine record of ``message``: everything needed to inspect and replay it as it arrived."""
    return QuarantinedMessage(
        id=quarantine_id(message),
        topic=message.topic,
        subscription=message.subscription,
        message_id=message.message_id,
        reason=reason,
        description=description,
        body=message.body,
        content_type=message.content_type,
        subject=message.subject,
        application_properties=dict(message.application_properties),
        quarantined_at=at,
    )


async def quarantine(
    ports: DeliveryPorts, message: IncomingMessage, reason: str, description: str, event: LobEvent | None = None
) -> None:
    await ports.quarantine.add(quarantined_message(message, reason, description, ports.now()))
    logger.warning(
        "quarantined message_id=%s topic=%s subscription=%s reason=%s",
        message.message_id,
        message.topic,
        message.subscription,
        reason,
    )
    await note_quarantined(ports, message, event, reason, description)
