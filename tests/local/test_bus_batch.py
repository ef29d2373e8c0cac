"""The local bus's batch API (receive_batch, complete_many, abandon_many) and its index-bounded sweep."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from local.bus import LocalBus, parse_topology, peek_lock, schema
from local.bus import entries as bus_entries
from shared.domain.errors import UpstreamError
from tests.local.bus_support import FakeClock, message, open_bus, topology

pytestmark = pytest.mark.local


def polling_bus(tmp_path: Path, clock: FakeClock, *, poll_interval: float) -> LocalBus:
    return LocalBus(tmp_path / "bus.sqlite3", parse_topology(topology()), clock=clock, poll_interval=poll_interval)


async def publish(bus: LocalBus, count: int, prefix: str = "m") -> None:
    await bus.publish("orders", [message(f"{prefix}{i}") for i in range(count)])


class TestReceiveBatch:
    async def test_locks_up_to_max_count_in_sequence_order_each_under_its_own_token(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        bus = open_bus(tmp_path, clock)
        await publish(bus, 5)

        batch = await bus.receive_batch("orders", "push", max_count=3)

        assert [m.message_id for m in batch] == ["m0", "m1", "m2"]
        assert [m.sequence_number for m in batch] == sorted(m.sequence_number for m in batch)
        assert len({m.lock_token for m in batch}) == 3
        assert {m.delivery_count for m in batch} == {1}
        assert {m.locked_until.timestamp() for m in batch} == {clock.now + 30}

    async def test_returns_a_partial_batch_then_nothing(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock)
        await publish(bus, 5)
        await bus.receive_batch("orders", "push", max_count=3)

        rest = await bus.receive_batch("orders", "push", max_count=10)

        assert [m.message_id for m in rest] == ["m3", "m4"]
        assert await bus.receive_batch("orders", "push", max_count=10) == []

    async def test_batch_locks_hold_against_receive_and_expire_back_in_order(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        bus = open_bus(tmp_path, clock)
        await publish(bus, 3)
        first = await bus.receive_batch("orders", "push", max_count=2)
        third = await bus.receive("orders", "push")
        assert third is not None
        assert third.message_id == "m2"
        assert await bus.receive("orders", "push") is None

        clock.advance(31)
        again = await bus.receive_batch("orders", "push", max_count=10)

        assert [(m.message_id, m.delivery_count) for m in again] == [("m0", 2), ("m1", 2), ("m2", 2)]
        assert {m.lock_token for m in again}.isdisjoint(m.lock_token for m in [*first, third])

    @pytest.mark.parametrize("max_count", [0, -1])
    async def test_max_count_below_one_is_a_value_error(self, tmp_path: Path, clock: FakeClock, max_count: int) -> None:
        bus = open_bus(tmp_path, clock)
        await publish(bus, 1)
        with pytest.raises(ValueError, match="max_count"):
            await bus.receive_batch("orders", "push", max_count=max_count)
        assert await bus.count_active("orders", "push") == 1

    @pytest.mark.parametrize(("topic", "subscription"), [("nope", "push"), ("orders", "nope")])
    async def test_unknown_entity_is_an_upstream_error(
        self, tmp_path: Path, clock: FakeClock, topic: str, subscription: str
    ) -> None:
        bus = open_bus(tmp_path, clock)
        with pytest.raises(UpstreamError):
            await bus.receive_batch(topic, subscription, max_count=1)

    async def test_lock_expiry_at_the_delivery_limit_dead_letters(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock)
        await publish(bus, 2)
        for _ in range(3):
            assert len(await bus.receive_batch("orders", "push", max_count=5)) == 2
            clock.advance(31)

        assert await bus.receive_batch("orders", "push", max_count=5) == []
        dead = await bus.list_dead_letters()
        assert [(d.message_id, d.reason, d.delivery_count) for d in dead] == [
            ("m0", "MaxDeliveryCountExceeded", 3),
            ("m1", "MaxDeliveryCountExceeded", 3),
        ]


class TestReceiveBatchWaiting:
    async def test_returns_as_soon_as_one_message_arrives_without_filling_the_batch(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        bus = open_bus(tmp_path, clock)
        waiting = asyncio.create_task(bus.receive_batch("orders", "push", max_count=10, max_wait=30))
        await asyncio.sleep(0.05)
        assert not waiting.done()

        await bus.publish("orders", [message("late")])

        batch = await asyncio.wait_for(waiting, 2)
        assert [m.message_id for m in batch] == ["late"]

    async def test_returns_nothing_at_the_deadline(self, tmp_path: Path, clock: FakeClock) -> None:
        """The deadline is real time: the fake clock only decides locks and expiry."""
        bus = polling_bus(tmp_path, clock, poll_interval=0.02)
        started = time.monotonic()

        batch = await bus.receive_batch("orders", "push", max_count=10, max_wait=0.2)

        elapsed = time.monotonic() - started
        assert batch == []
        assert 0.2 <= elapsed < 2

    async def test_a_lock_expiring_while_waiting_is_picked_up_by_the_next_poll(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        """Each poll sweeps before deciding that nothing is receivable, so moving the clock is enough."""
        bus = polling_bus(tmp_path, clock, poll_interval=0.01)
        await publish(bus, 1)
        assert await bus.receive("orders", "push") is not None
        waiting = asyncio.create_task(bus.receive_batch("orders", "push", max_count=10, max_wait=30))
        await asyncio.sleep(0.05)
        assert not waiting.done()

        clock.advance(31)

        batch = await asyncio.wait_for(waiting, 2)
        assert [(m.message_id, m.delivery_count) for m in batch] == [("m0", 2)]

    async def test_abandon_many_wakes_a_waiting_receiver(self, tmp_path: Path, clock: FakeClock) -> None:
        """The poll interval is longer than the test's patience, so only the wakeup can deliver in time."""
        bus = polling_bus(tmp_path, clock, poll_interval=60)
        await publish(bus, 2)
        held = await bus.receive_batch("orders", "push", max_count=2)
        waiting = asyncio.create_task(bus.receive_batch("orders", "push", max_count=10, max_wait=30))
        await asyncio.sleep(0.05)
        assert not waiting.done()

        assert await bus.abandon_many([m.lock_token for m in held]) == []

        batch = await asyncio.wait_for(waiting, 2)
        assert [m.message_id for m in batch] == ["m0", "m1"]


class TestCompleteMany:
    async def test_completes_every_held_message(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock)
        await publish(bus, 3)
        batch = await bus.receive_batch("orders", "push", max_count=3)

        lost = await bus.complete_many([m.lock_token for m in batch])

        assert lost == []
        assert await bus.count_active("orders", "push") == 0
        clock.advance(60)
        assert await bus.receive_batch("orders", "push", max_count=10) == []
        assert await bus.count_active("orders", "audit") == 3

    async def test_skips_and_returns_tokens_whose_lock_was_lost(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock)
        await publish(bus, 3)
        expired = await bus.receive("orders", "push")
        assert expired is not None
        clock.advance(20)
        held = await bus.receive_batch("orders", "push", max_count=2)
        clock.advance(15)
        tokens = [expired.lock_token, held[0].lock_token, "never-held", held[1].lock_token]

        lost = await bus.complete_many(tokens)

        assert lost == [expired.lock_token, "never-held"]
        assert await bus.count_active("orders", "push") == 1
        again = await bus.receive("orders", "push")
        assert again is not None
        assert (again.message_id, again.delivery_count) == ("m0", 2)

    async def test_a_token_repeated_in_one_call_is_settled_once_and_then_lost(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        bus = open_bus(tmp_path, clock)
        await publish(bus, 1)
        [received] = await bus.receive_batch("orders", "push", max_count=1)

        lost = await bus.complete_many([received.lock_token, received.lock_token])

        assert lost == [received.lock_token]
        assert await bus.count_active("orders", "push") == 0

    async def test_one_token_as_a_plain_string_is_refused(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock)
        await publish(bus, 1)
        [received] = await bus.receive_batch("orders", "push", max_count=1)
        with pytest.raises(TypeError):
            await bus.complete_many(received.lock_token)
        with pytest.raises(TypeError):
            await bus.abandon_many(received.lock_token)
        assert await bus.complete_many([received.lock_token]) == []


class TestAbandonMany:
    async def test_releases_every_held_message_for_redelivery_in_order(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock)
        await publish(bus, 3)
        batch = await bus.receive_batch("orders", "push", max_count=3)

        assert await bus.abandon_many([m.lock_token for m in reversed(batch)]) == []

        again = await bus.receive_batch("orders", "push", max_count=10)
        assert [(m.message_id, m.delivery_count) for m in again] == [("m0", 2), ("m1", 2), ("m2", 2)]

    async def test_dead_letters_the_messages_at_max_delivery_count_only(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock)
        await publish(bus, 1, prefix="worn")
        for _ in range(2):
            received = await bus.receive("orders", "push")
            assert received is not None
            await bus.abandon(received.lock_token)
        await publish(bus, 1, prefix="fresh")
        batch = await bus.receive_batch("orders", "push", max_count=10)
        assert [(m.message_id, m.delivery_count) for m in batch] == [("worn0", 3), ("fresh0", 1)]

        assert await bus.abandon_many([m.lock_token for m in batch]) == []

        dead = await bus.list_dead_letters()
        assert [(d.message_id, d.reason, d.delivery_count) for d in dead] == [("worn0", "MaxDeliveryCountExceeded", 3)]
        assert dead[0].description == "Message could not be consumed after 3 delivery attempts."
        again = await bus.receive_batch("orders", "push", max_count=10)
        assert [(m.message_id, m.delivery_count) for m in again] == [("fresh0", 2)]

    async def test_skips_and_returns_tokens_whose_lock_was_lost(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock)
        await publish(bus, 2)
        [first, second] = await bus.receive_batch("orders", "push", max_count=2)
        await bus.complete(first.lock_token)

        lost = await bus.abandon_many([first.lock_token, second.lock_token])

        assert lost == [first.lock_token]
        again = await bus.receive("orders", "push")
        assert again is not None
        assert (again.message_id, again.delivery_count) == ("m1", 2)


class TestSweepWithABacklog:
    async def test_an_expired_lock_deep_in_a_backlog_is_redelivered_before_later_messages(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        bus = open_bus(tmp_path, clock, topology(subscriptions=("push",)))
        await publish(bus, 200)
        batch = await bus.receive_batch("orders", "push", max_count=10)
        assert await bus.complete_many([m.lock_token for m in batch[1:]]) == []
        assert [m.message_id for m in await bus.receive_batch("orders", "push", max_count=2)] == ["m10", "m11"]

        clock.advance(31)

        again = await bus.receive_batch("orders", "push", max_count=3)
        assert [(m.message_id, m.delivery_count) for m in again] == [("m0", 2), ("m10", 2), ("m11", 2)]

    async def test_only_messages_past_their_ttl_are_dropped(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock, topology(subscriptions=("push",)))
        for i in range(100):
            await bus.send("orders", message(f"m{i}"), time_to_live=timedelta(seconds=10 if i % 2 else 100))

        clock.advance(11)

        batch = await bus.receive_batch("orders", "push", max_count=100)
        assert [m.message_id for m in batch] == [f"m{i}" for i in range(0, 100, 2)]
        assert await bus.list_dead_letters() == []

    async def test_a_locked_message_past_its_ttl_expires_when_its_lock_runs_out(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        doc = topology(
            sub_props={"DefaultMessageTimeToLive": "PT10S", "DeadLetteringOnMessageExpiration": True},
            subscriptions=("push",),
        )
        bus = open_bus(tmp_path, clock, doc)
        await publish(bus, 2)
        [locked] = await bus.receive_batch("orders", "push", max_count=1)
        clock.advance(11)

        assert await bus.receive_batch("orders", "push", max_count=10) == []
        assert [d.message_id for d in await bus.list_dead_letters()] == ["m1"]
        clock.advance(20)

        assert await bus.receive_batch("orders", "push", max_count=10) == []
        dead = await bus.list_dead_letters()
        assert [(d.message_id, d.reason) for d in dead] == [
            ("m0", "TTLExpiredException"),
            ("m1", "TTLExpiredException"),
        ]
        assert await bus.complete_many([locked.lock_token]) == [locked.lock_token]

    def test_receiving_and_settling_read_rows_through_indexes_only(self, tmp_path: Path, clock: FakeClock) -> None:
        """No statement scans a whole table or sorts: the cost of a receive does not grow with the backlog."""
        spec = parse_topology(topology(sub_props={"DefaultMessageTimeToLive": "PT1H"})).topic("orders")
        push, audit = spec.subscriptions
        db = schema.connect(tmp_path / "bus.sqlite3")
        for i in range(50):
            bus_entries.insert(db, spec, message(f"m{i}"), timedelta(seconds=10 + i), clock())
        statements: list[str] = []
        db.set_trace_callback(statements.append)

        batch = peek_lock.lock_next(db, spec, push, clock(), 5)
        holding = peek_lock.held(db, batch[0].lock_token, clock())
        assert holding is not None
        peek_lock.abandon(db, batch[1].lock_token, push, 1)
        bus_entries.remove(db, holding.topic, holding.subscription, holding.seq)
        clock.advance(31)
        peek_lock.sweep(db, spec, push, clock())
        peek_lock.sweep(db, spec, audit, clock())
        db.set_trace_callback(None)

        plans = {sql: _plan(db, sql) for sql in statements if sql.split()[0].upper() in {"SELECT", "UPDATE", "DELETE"}}
        db.close()
        assert len(plans) >= 8
        full_scans = {sql: plan for sql, plan in plans.items() if any(_reads_everything(step) for step in plan)}
        assert full_scans == {}

    def test_a_receive_and_complete_cost_the_same_with_a_small_or_a_large_backlog(self, tmp_path: Path) -> None:
        """Counted in SQLite VM steps: the sweep, the pick and the removal read due rows only, never the backlog."""
        small = _steps_to_receive_and_complete(tmp_path / "small", backlog=100)
        large = _steps_to_receive_and_complete(tmp_path / "large", backlog=3000)
        assert large == pytest.approx(small, rel=0.1)

    async def test_a_file_with_the_old_lock_index_gets_the_partial_one(self, tmp_path: Path, clock: FakeClock) -> None:
        path = tmp_path / "bus.sqlite3"
        db = schema.connect(path)
        db.executescript(
            "DROP INDEX entries_by_held_lock; CREATE UNIQUE INDEX entries_by_lock ON entries (lock_token);"
        )
        db.close()

        bus = open_bus(tmp_path, clock)
        await publish(bus, 1)
        assert len(await bus.receive_batch("orders", "push", max_count=1)) == 1
        bus.close()

        with closing(sqlite3.connect(path)) as check:
            names = {name for (name,) in check.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "entries_by_lock" not in names
        assert {"entries_by_held_lock", "entries_ready", "entries_by_lock_expiry", "entries_by_expiry"} <= names


def _plan(db: sqlite3.Connection, sql: str) -> list[str]:
    return [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql)]


def _reads_everything(step: str) -> bool:
    return (step.startswith("SCAN") and "CONSTANT ROW" not in step) or "TEMP B-TREE" in step


def _steps_to_receive_and_complete(directory: Path, *, backlog: int) -> int:
    """A tenth of the backlog stays locked (not yet due) in front of the rest; every message has a TTL (not yet due)."""
    clock = FakeClock()
    doc = topology(sub_props={"DefaultMessageTimeToLive": "PT1H"}, subscriptions=("push",))
    spec = parse_topology(doc).topic("orders")
    push = spec.subscriptions[0]
    db = schema.connect(directory / "bus.sqlite3")
    for i in range(backlog):
        bus_entries.insert(db, spec, message(f"m{i}"), None, clock())
    peek_lock.lock_next(db, spec, push, clock(), backlog // 10)
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    db.set_progress_handler(count, 1)
    [received] = peek_lock.lock_next(db, spec, push, clock(), 1)
    holding = peek_lock.held(db, received.lock_token, clock())
    assert holding is not None
    bus_entries.remove(db, holding.topic, holding.subscription, holding.seq)
    db.set_progress_handler(None, 1)
    db.close()
    assert received.message_id == f"m{backlog // 10}"
    return steps
