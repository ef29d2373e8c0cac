"""EventPublisher and DeadLetterStore over azure-servicebus (aio): batched sends, DLQ peek, replay."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from azure.core.credentials_async import AsyncTokenCredential
from azure.servicebus import ServiceBusMessage, ServiceBusReceivedMessage, ServiceBusSubQueue
from azure.servicebus.aio import ServiceBusClient
from azure.servicebus.exceptions import (
    MessageLockLostError,
    MessageSizeExceededError,
    MessagingEntityDisabledError,
    MessagingEntityNotFoundError,
    OperationTimeoutError,
    ServiceBusAuthenticationError,
    ServiceBusAuthorizationError,
    ServiceBusCommunicationError,
    ServiceBusConnectionError,
    ServiceBusError,
    ServiceBusQuotaExceededError,
    ServiceBusServerBusyError,
    SessionLockLostError,
)

from shared.domain.errors import ConfigError, NotFoundError, UpstreamError, UpstreamUnavailableError
from shared.domain.publishing import replay_message_id
from shared.domain.records import DeadLetteredMessage, OutgoingMessage

__all__ = [
    "ServiceBusDeadLetterStore",
    "ServiceBusEventPublisher",
    "create_service_bus_client",
    "decode_application_properties",
    "map_service_bus_error",
    "message_body",
    "to_dead_lettered",
    "to_service_bus_message",
]

logger = logging.getLogger(__name__)

_TRANSIENT = (
    ServiceBusConnectionError,
    ServiceBusCommunicationError,
    ServiceBusServerBusyError,
    ServiceBusQuotaExceededError,
    OperationTimeoutError,
    MessageLockLostError,
    SessionLockLostError,
)
# The SDK marks some of these retryable; for the app they are configuration faults that retrying will not fix.
_PERMANENT = (
    ServiceBusAuthenticationError,
    ServiceBusAuthorizationError,
    MessagingEntityNotFoundError,
    MessagingEntityDisabledError,
    MessageSizeExceededError,
)
_PEEK_PAGE = 100
_RECEIVE_PAGE = 50


def create_service_bus_client(
    *,
    connection_string: str | None = None,
    fully_qualified_namespace: str | None = None,
    credential: AsyncTokenCredential | None = None,
) -> ServiceBusClient:
    """One client per process, from a connection string (UseDevelopmentEmulator=true works) or namespace +
    credential. Raises ConfigError when neither is given."""
    if connection_string:
        return ServiceBusClient.from_connection_string(connection_string)
    if fully_qualified_namespace and credential is not None:
        return ServiceBusClient(fully_qualified_namespace, credential)
    raise ConfigError("Service Bus needs a connection string, or a fully qualified namespace and a credential")


def map_service_bus_error(exc: Exception, action: str) -> UpstreamError:
    """The shared.domain.errors equivalent of an azure-servicebus error; transient ones: UpstreamUnavailableError."""
    if isinstance(exc, _PERMANENT):
        return UpstreamError(f"Service Bus refused to {action}: {type(exc).__name__}: {exc}")
    if isinstance(exc, _TRANSIENT) or (isinstance(exc, ServiceBusError) and getattr(exc, "_retryable", False)):
        return UpstreamUnavailableError(f"Service Bus unavailable while trying to {action}: {type(exc).__name__}")
    return UpstreamError(f"Service Bus refused to {action}: {type(exc).__name__}: {exc}")


def to_service_bus_message(message: OutgoingMessage) -> ServiceBusMessage:
    """The wire form of an outgoing message: id (duplicate detection), subject, content type, properties, and the
    scheduled enqueue time when it has one."""
    return ServiceBusMessage(
        body=message.body,
        message_id=message.message_id,
        subject=message.subject,
        content_type=message.content_type,
        application_properties=_wire_properties(message.application_properties),
        scheduled_enqueue_time_utc=message.scheduled_enqueue_time,
    )


def _wire_properties(properties: Mapping[str, str]) -> dict[str | bytes, int | float | bytes | bool | str | UUID]:
    return {key: value for key, value in properties.items()}


def decode_application_properties(raw: Mapping[Any, Any] | None) -> dict[str, str]:
    """Received application properties have bytes keys and (often) bytes values; give str -> str."""
    decoded: dict[str, str] = {}
    for key, value in (raw or {}).items():
        name = key.decode("utf-8") if isinstance(key, bytes) else str(key)
        decoded[name] = value.decode("utf-8") if isinstance(value, bytes) else str(value)
    return decoded


def message_body(message: ServiceBusReceivedMessage) -> bytes:
    """The body of a DATA message (a single bytes value or an iterable of sections)."""
    body = message.body
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, Iterable):
        return b"".join(bytes(part) for part in body)
    return str(body).encode("utf-8")


def to_dead_lettered(topic: str, subscription: str, message: ServiceBusReceivedMessage) -> DeadLetteredMessage:
    """An operator's view of a message in a subscription's dead-letter sub-queue."""
    return DeadLetteredMessage(
        id=f"{topic}/{subscription}/{message.sequence_number}",
        topic=topic,
        subscription=subscription,
        message_id=message.message_id,
        reason=message.dead_letter_reason,
        description=message.dead_letter_error_description,
        body=message_body(message),
        subject=message.subject,
        content_type=message.content_type,
        application_properties=decode_application_properties(message.application_properties),
        enqueued_time=message.enqueued_time_utc,
        delivery_count=message.delivery_count or 0,
    )


def _copy_for_replay(message: ServiceBusReceivedMessage) -> ServiceBusMessage:
    properties = decode_application_properties(message.application_properties)
    properties["replayOf"] = message.message_id or ""
    return ServiceBusMessage(
        body=message_body(message),
        message_id=replay_message_id(message.message_id),
        subject=message.subject,
        content_type=message.content_type,
        correlation_id=message.correlation_id,
        application_properties=_wire_properties(properties),
    )


class ServiceBusEventPublisher:
    """shared.ports.EventPublisher over a ServiceBusClient (owned by the caller)."""

    def __init__(self, client: ServiceBusClient) -> None:
        self._client = client

    async def publish(self, topic: str, messages: Sequence[OutgoingMessage]) -> None:
        """Send in as few batches as fit. Raises UpstreamUnavailableError (transient) or UpstreamError."""
        if not messages:
            return
        try:
            async with self._client.get_topic_sender(topic) as sender:
                batch = await sender.create_message_batch()
                for message in messages:
                    wire = to_service_bus_message(message)
                    try:
                        batch.add_message(wire)
                        continue
                    except MessageSizeExceededError:
                        if len(batch) == 0:
                            raise
                    await sender.send_messages(batch)
                    batch = await sender.create_message_batch()
                    batch.add_message(wire)
                if len(batch):
                    await sender.send_messages(batch)
        except ServiceBusError as exc:
            raise map_service_bus_error(exc, f"publish to {topic!r}") from exc

    async def schedule(self, topic: str, messages: Sequence[OutgoingMessage], at: datetime) -> None:
        """Schedule messages (Service Bus holds them until ``at``). Raises UpstreamUnavailableError, UpstreamError."""
        if not messages:
            return
        try:
            async with self._client.get_topic_sender(topic) as sender:
                await sender.schedule_messages([to_service_bus_message(message) for message in messages], at)
        except ServiceBusError as exc:
            raise map_service_bus_error(exc, f"schedule on {topic!r}") from exc


class ServiceBusDeadLetterStore:
    """shared.ports.DeadLetterStore over the dead-letter sub-queues of the given (topic, subscription) pairs."""

    def __init__(
        self, client: ServiceBusClient, subscriptions: Sequence[tuple[str, str]], *, max_per_subscription: int = 1000
    ) -> None:
        self._client = client
        self._subscriptions = list(subscriptions)
        self._max = max_per_subscription

    async def list_dead_letters(self) -> list[DeadLetteredMessage]:
        """Peek every dead-letter queue (no locks taken). Raises UpstreamUnavailableError or UpstreamError."""
        found: list[DeadLetteredMessage] = []
        for topic, subscription in self._subscriptions:
            try:
                async with self._client.get_subscription_receiver(
                    topic, subscription, sub_queue=ServiceBusSubQueue.DEAD_LETTER
                ) as receiver:
                    next_sequence = 0
                    seen = 0
                    while seen < self._max:
                        page = await receiver.peek_messages(_PEEK_PAGE, sequence_number=next_sequence)
                        if not page:
                            break
                        found.extend(to_dead_lettered(topic, subscription, m) for m in page)
                        seen += len(page)
                        next_sequence = max(m.sequence_number or 0 for m in page) + 1
            except ServiceBusError as exc:
                raise map_service_bus_error(exc, f"list dead letters of {topic}/{subscription}") from exc
        return found

    async def replay(self, dead_letter_id: str) -> DeadLetteredMessage:
        """Re-send a dead letter to its topic, then complete it in the DLQ.

        Raises NotFoundError (no such dead letter), UpstreamUnavailableError or UpstreamError. If the topic has
        duplicate detection, Service Bus silently drops a copy sent within the window.
        """
        topic, subscription, sequence = _parse_id(dead_letter_id)
        if (topic, subscription) not in self._subscriptions:
            raise NotFoundError(f"no dead letter {dead_letter_id!r}")
        try:
            async with self._client.get_subscription_receiver(
                topic, subscription, sub_queue=ServiceBusSubQueue.DEAD_LETTER
            ) as receiver:
                held: list[ServiceBusReceivedMessage] = []
                target: ServiceBusReceivedMessage | None = None
                try:
                    while target is None and len(held) < self._max:
                        page = await receiver.receive_messages(max_message_count=_RECEIVE_PAGE, max_wait_time=5)
                        if not page:
                            break
                        for message in page:
                            if message.sequence_number == sequence and target is None:
                                target = message
                            else:
                                held.append(message)
                    if target is None:
                        raise NotFoundError(f"no dead letter {dead_letter_id!r}")
                    async with self._client.get_topic_sender(topic) as sender:
                        await sender.send_messages(_copy_for_replay(target))
                    await receiver.complete_message(target)
                    return to_dead_lettered(topic, subscription, target)
                finally:
                    for message in held:
                        try:
                            await receiver.abandon_message(message)
                        except ServiceBusError:
                            logger.warning("could not release dead letter %s; its lock will expire", message.message_id)
        except ServiceBusError as exc:
            raise map_service_bus_error(exc, f"replay {dead_letter_id!r}") from exc


def _parse_id(dead_letter_id: str) -> tuple[str, str, int]:
    parts = dead_letter_id.split("/")
    if len(parts) != 3 or not parts[2].isdigit():
        raise NotFoundError(f"no dead letter {dead_letter_id!r}")
    return parts[0], parts[1], int(parts[2])
