"""Messaging ports: publishing events to the bus, and its dead-letter queues."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from shared.domain.records import DeadLetteredMessage, OutgoingMessage

__all__ = ["DeadLetterStore", "EventPublisher"]


class EventPublisher(Protocol):
    async def publish(self, topic: str, messages: Sequence[OutgoingMessage]) -> None:
        """Publish in as few batches as the transport allows. Raises UpstreamUnavailableError on transient failure."""
        ...

    async def schedule(self, topic: str, messages: Sequence[OutgoingMessage], at: datetime) -> None:
        """Publish so that subscribers receive the messages at ``at`` (UTC), not before; durable from return on.

        Raises UpstreamUnavailableError on transient failure.
        """
        ...


class DeadLetterStore(Protocol):
    async def list_dead_letters(self) -> list[DeadLetteredMessage]: ...
    async def replay(self, dead_letter_id: str) -> DeadLetteredMessage:
        """Re-publish one dead-lettered message to its topic and remove it from the dead-letter queue.

        Raises NotFoundError when no such dead letter exists.
        """
        ...
