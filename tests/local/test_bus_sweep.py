"""The local bus's sweep with a backlog: redelivery and expiry deep in it, and receives that read due rows only."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from local.bus import entries as bus_entries
from local.bus import parse_topology, peek_lock, schema
from tests.local.bus_support import FakeClock, message, open_bus, publish, topology

pytestmark = pytest.mark.local


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
