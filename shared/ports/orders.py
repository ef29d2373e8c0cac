"""Ports of the order-processing app: the order store (orders with their outbox, written together) and the outbox
relay's view of it, plus the bundles the order use cases take."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from shared.domain.orders.model import Order
from shared.domain.records import OutgoingMessage
from shared.domain.redelivery import default_redelivery_backoff
from shared.ports.messaging import EventPublisher
from shared.ports.storage import QuarantineStore

__all__ = [
    "FulfilmentPorts",
    "IdempotencyClaim",
    "OrderPage",
    "OrderPorts",
    "OrderStore",
    "Outbox",
    "OutboxEntry",
    "StoredOrder",
]


@dataclass(frozen=True)
class StoredOrder:
    """An order as read, with the version (etag) a conditional write must match."""

    order: Order
    etag: str


@dataclass(frozen=True)
class OutboxEntry:
    """A message to publish, stored with the change that caused it; ``partition`` is the order's customer."""

    partition: str
    topic: str
    message: OutgoingMessage
    written_at: datetime


@dataclass(frozen=True)
class IdempotencyClaim:
    """An ``Idempotency-Key`` and the fingerprint of the request it came with."""

    key: str
    fingerprint: str


@dataclass(frozen=True)
class OrderPage:
    orders: list[Order]
    next_after: str | None  # the last order id of this page when there are more


class OrderStore(Protocol):
    """Orders, partitioned by customer. Every method raises UpstreamError (UpstreamUnavailableError when it may
    pass) on storage failures."""

    async def create(
        self, order: Order, outbox: Sequence[OutboxEntry], idempotency: IdempotencyClaim | None
    ) -> tuple[Order, bool]:
        """Store the order, its outbox entries and the idempotency key in one atomic write. Returns the order and
        True; when the key was used before with the same fingerprint, the order it made and False (nothing
        written). Raises ConflictError when the key was used with another request."""
        ...

    async def get(self, customer_id: str, order_id: str) -> StoredOrder | None: ...

    async def page(self, customer_id: str, *, limit: int, after: str | None) -> OrderPage:
        """The customer's orders, newest first, ``limit`` at most, starting after the order id ``after``."""
        ...

    async def transition(self, stored: StoredOrder, moved: Order, outbox: Sequence[OutboxEntry]) -> None:
        """Replace the order with ``moved`` and add the outbox entries, atomically, only if the order is still
        the version read. Raises ConflictError when it changed since."""
        ...


class Outbox(Protocol):
    async def pending(self, *, written_before: datetime, limit: int) -> list[OutboxEntry]:
        """Entries not relayed yet that were written before ``written_before``, oldest first."""
        ...

    async def remove(self, entries: Sequence[OutboxEntry]) -> None:
        """Forget relayed entries. Idempotent: no error for entries already gone."""
        ...


@dataclass(frozen=True)
class OrderPorts:
    """What placing and reading orders needs."""

    orders: OrderStore
    outbox: Outbox
    publisher: EventPublisher
    now: Callable[[], datetime]
    new_order_id: Callable[[datetime], str]


@dataclass(frozen=True)
class FulfilmentPorts:
    """What the fulfilment worker needs; the waits between steps are settings."""

    orders: OrderStore
    outbox: Outbox
    publisher: EventPublisher
    quarantine: QuarantineStore
    now: Callable[[], datetime]
    ship_after: timedelta
    deliver_after: timedelta
    redelivery_backoff: Callable[[int], float] = default_redelivery_backoff
