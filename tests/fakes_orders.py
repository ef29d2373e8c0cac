"""In-memory fakes of the order ports (A's FakeRepository style): orders with etags, the outbox, one transaction."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.domain.errors import ConflictError
from shared.domain.orders.model import Order
from shared.domain.records import OutgoingMessage
from shared.ports.orders import IdempotencyClaim, OrderPage, OutboxEntry, StoredOrder


class InMemoryOrderStore:
    """OrderStore and Outbox in memory; ``fail_next_transition`` makes the next move lose a race."""

    def __init__(self) -> None:
        self.orders: dict[tuple[str, str], tuple[Order, str]] = {}
        self.outbox: dict[tuple[str, str], OutboxEntry] = {}
        self.keys: dict[tuple[str, str], tuple[str, str]] = {}
        self._versions = itertools.count(1)
        self.fail_next_transition = False

    async def create(
        self, order: Order, outbox: Sequence[OutboxEntry], idempotency: IdempotencyClaim | None
    ) -> tuple[Order, bool]:
        if idempotency is not None:
            earlier = self.keys.get((order.customer_id, idempotency.key))
            if earlier is not None:
                order_id, fingerprint = earlier
                if fingerprint != idempotency.fingerprint:
                    raise ConflictError("key used for another order")
                return self.orders[(order.customer_id, order_id)][0], False
            self.keys[(order.customer_id, idempotency.key)] = (order.order_id, idempotency.fingerprint)
        self.orders[(order.customer_id, order.order_id)] = (order, str(next(self._versions)))
        self._add(outbox)
        return order, True

    async def get(self, customer_id: str, order_id: str) -> StoredOrder | None:
        found = self.orders.get((customer_id, order_id))
        return None if found is None else StoredOrder(*found)

    async def page(self, customer_id: str, *, limit: int, after: str | None) -> OrderPage:
        ids = sorted(oid for cid, oid in self.orders if cid == customer_id and (after is None or oid > after))
        shown = [self.orders[(customer_id, oid)][0] for oid in ids[:limit]]
        return OrderPage(shown, shown[-1].order_id if len(ids) > limit else None)

    async def transition(self, stored: StoredOrder, moved: Order, outbox: Sequence[OutboxEntry]) -> None:
        key = (moved.customer_id, moved.order_id)
        if self.fail_next_transition or self.orders[key][1] != stored.etag:
            self.fail_next_transition = False
            raise ConflictError("changed")
        self.orders[key] = (moved, str(next(self._versions)))
        self._add(outbox)

    async def pending(self, *, written_before: datetime, limit: int) -> list[OutboxEntry]:
        entries = [entry for entry in self.outbox.values() if entry.written_at < written_before]
        return sorted(entries, key=lambda entry: entry.written_at)[:limit]

    async def remove(self, entries: Sequence[OutboxEntry]) -> None:
        for entry in entries:
            self.outbox.pop((entry.partition, entry.message.message_id), None)

    def _add(self, outbox: Sequence[OutboxEntry]) -> None:
        for entry in outbox:
            self.outbox[(entry.partition, entry.message.message_id)] = entry


@dataclass
class FlakyPublisher:
    """Publishes into ``published`` unless ``down`` is set, then raises what it holds."""

    published: list[tuple[str, OutgoingMessage]] = field(default_factory=list)
    down: Exception | None = None

    async def publish(self, topic: str, messages: Sequence[OutgoingMessage]) -> None:
        if self.down is not None:
            raise self.down
        self.published.extend((topic, message) for message in messages)
