"""TableOrderStore against Azurite: the order, its outbox and its idempotency key in one transaction; moves on the
etag; newest-first pages; the outbox relay's view across customers."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.adapters.tables import TableOrderStore
from shared.domain.errors import ConflictError
from shared.domain.orders.messages import ORDERS_TOPIC, status_message, step_message
from shared.domain.orders.model import Order, OrderLine, OrderStatus, new_order, order_id_for
from shared.ports.orders import IdempotencyClaim, OutboxEntry
from tests.conftest import random_id
from tests.support.azurite import table_service

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
async def store(azurite_tables: str) -> AsyncIterator[TableOrderStore]:
    prefix = random_id("t")
    async with table_service(azurite_tables, prefix) as service:
        yield TableOrderStore(service, prefix)


def an_order(customer: str = "alice", at: datetime = T0, sku: str = "MUG-01") -> Order:
    order_id = order_id_for(at, random.getrandbits(20))
    return new_order(order_id, customer, "EUR", [OrderLine(sku, 2, Decimal("12.50"))], at)


def placed_entry(order: Order) -> OutboxEntry:
    return OutboxEntry(order.customer_id, ORDERS_TOPIC, status_message(order, order.history[0]), order.created_at)


class TestCreate:
    async def test_the_order_and_its_outbox_row_are_stored_together(self, store: TableOrderStore):
        order = an_order()
        returned, created = await store.create(order, [placed_entry(order)], None)
        assert (returned, created) == (order, True)
        read = await store.get("alice", order.order_id)
        assert read is not None
        assert read.order == order
        assert read.order.total == Decimal("25.00")
        pending = await store.pending(written_before=T0 + timedelta(seconds=1), limit=10)
        assert [entry.message.message_id for entry in pending] == [f"/lob/orders#{order.order_id}:placed"]
        assert pending[0].message == placed_entry(order).message
        assert pending[0].partition == "alice"

    async def test_a_repeated_key_with_the_same_request_returns_the_first_order_and_writes_nothing(
        self, store: TableOrderStore
    ):
        first, second = an_order(), an_order(at=T0 + timedelta(seconds=1))
        claim = IdempotencyClaim("key-1", "fingerprint-a")
        await store.create(first, [placed_entry(first)], claim)
        returned, created = await store.create(second, [placed_entry(second)], claim)
        assert (returned, created) == (first, False)
        assert await store.get("alice", second.order_id) is None
        pending = await store.pending(written_before=T0 + timedelta(minutes=1), limit=10)
        assert len(pending) == 1

    async def test_a_repeated_key_with_another_request_is_a_conflict(self, store: TableOrderStore):
        first, second = an_order(), an_order(at=T0 + timedelta(seconds=1))
        await store.create(first, [], IdempotencyClaim("key-1", "fingerprint-a"))
        with pytest.raises(ConflictError):
            await store.create(second, [], IdempotencyClaim("key-1", "fingerprint-b"))

    async def test_the_same_key_of_another_customer_is_another_order(self, store: TableOrderStore):
        claim = IdempotencyClaim("key-1", "fingerprint-a")
        mine, theirs = an_order("alice"), an_order("bob")
        assert (await store.create(mine, [], claim))[1]
        assert (await store.create(theirs, [], claim))[1]

    async def test_concurrent_requests_with_one_key_make_one_order(self, store: TableOrderStore):
        claim = IdempotencyClaim("key-race", "same")
        orders = [an_order(at=T0 + timedelta(milliseconds=i)) for i in range(5)]
        results = await asyncio.gather(*(store.create(order, [placed_entry(order)], claim) for order in orders))
        assert sum(created for _, created in results) == 1
        assert len({order.order_id for order, _ in results}) == 1
        assert len((await store.page("alice", limit=10, after=None)).orders) == 1


class TestTransition:
    async def test_a_move_replaces_the_order_and_adds_its_outbox_rows(self, store: TableOrderStore):
        order = an_order()
        await store.create(order, [], None)
        stored = await store.get("alice", order.order_id)
        assert stored is not None
        moved = order.moved_to(OrderStatus.CONFIRMED, T0 + timedelta(seconds=1))
        step = step_message(moved, OrderStatus.SHIPPED, T0 + timedelta(seconds=5))
        entries = [
            OutboxEntry("alice", ORDERS_TOPIC, status_message(moved, moved.history[-1]), T0),
            OutboxEntry("alice", ORDERS_TOPIC, step, T0),
        ]
        await store.transition(stored, moved, entries)
        read = await store.get("alice", order.order_id)
        assert read is not None
        assert read.order.status is OrderStatus.CONFIRMED
        assert [change.status for change in read.order.history] == [OrderStatus.PLACED, OrderStatus.CONFIRMED]
        pending = await store.pending(written_before=T0 + timedelta(seconds=1), limit=10)
        scheduled = {entry.message.message_id: entry.message.scheduled_enqueue_time for entry in pending}
        assert scheduled == {
            f"/lob/orders#{order.order_id}:confirmed": None,
            step.message_id: T0 + timedelta(seconds=5),
        }

    async def test_a_move_on_a_stale_read_is_refused_and_writes_nothing(self, store: TableOrderStore):
        order = an_order()
        await store.create(order, [], None)
        stale = await store.get("alice", order.order_id)
        assert stale is not None
        confirmed = order.moved_to(OrderStatus.CONFIRMED, T0)
        await store.transition(stale, confirmed, [])
        rejected = order.moved_to(OrderStatus.REJECTED, T0, "payment_declined")
        entry = OutboxEntry("alice", ORDERS_TOPIC, status_message(rejected, rejected.history[-1]), T0)
        with pytest.raises(ConflictError):
            await store.transition(stale, rejected, [entry])
        read = await store.get("alice", order.order_id)
        assert read is not None
        assert read.order.status is OrderStatus.CONFIRMED
        assert await store.pending(written_before=T0 + timedelta(days=1), limit=10) == []


class TestReading:
    async def test_pages_come_newest_first_and_end(self, store: TableOrderStore):
        orders = [an_order(at=T0 + timedelta(minutes=i)) for i in range(5)]
        for order in orders:
            await store.create(order, [], None)
        await store.create(an_order("bob"), [], None)
        first = await store.page("alice", limit=2, after=None)
        second = await store.page("alice", limit=2, after=first.next_after)
        third = await store.page("alice", limit=2, after=second.next_after)
        newest_first = [order.order_id for order in reversed(orders)]
        assert [o.order_id for o in first.orders + second.orders + third.orders] == newest_first
        assert third.next_after is None

    async def test_another_customers_order_is_not_found(self, store: TableOrderStore):
        order = an_order("alice")
        await store.create(order, [], None)
        assert await store.get("bob", order.order_id) is None

    async def test_odd_order_ids_are_simply_not_found(self, store: TableOrderStore):
        for odd in ("a/b", "#?", "x" * 600, "order|"):
            assert await store.get("alice", odd) is None


class TestOutbox:
    async def test_pending_spans_customers_skips_fresh_rows_and_remove_is_idempotent(self, store: TableOrderStore):
        old, other, fresh = an_order("alice"), an_order("bob"), an_order("carol", at=T0 + timedelta(minutes=5))
        for order in (old, other, fresh):
            await store.create(order, [placed_entry(order)], None)
        pending = await store.pending(written_before=T0 + timedelta(minutes=1), limit=10)
        assert {entry.partition for entry in pending} == {"alice", "bob"}
        await store.remove(pending)
        await store.remove(pending)
        left = await store.pending(written_before=T0 + timedelta(days=1), limit=10)
        assert [entry.partition for entry in left] == ["carol"]
