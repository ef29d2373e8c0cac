"""Several processes on one bus file: a write that finds another connection's transaction open waits for it without
stopping the event loop, so the host's other work (its HTTP calls, its other triggers) goes on meanwhile; it gives
up with "database is locked" after ``busy_wait``, and a cancelled wait leaves the bus usable."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.bus import LocalBus, parse_topology
from tests.local.bus_support import FakeClock, message, topology

pytestmark = pytest.mark.local


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[LocalBus]:
    opened = LocalBus(tmp_path / "bus.sqlite3", parse_topology(topology()), clock=FakeClock(), busy_wait=2.0)
    yield opened
    opened.close()


@pytest.fixture
def other_process(tmp_path: Path, bus: LocalBus) -> Iterator[sqlite3.Connection]:
    """Another connection to the bus file (SQLite locks the file per connection, as between processes)."""
    connection = sqlite3.connect(tmp_path / "bus.sqlite3", isolation_level=None)
    yield connection
    if connection.in_transaction:
        connection.execute("ROLLBACK")
    connection.close()


async def test_a_write_waits_for_another_transaction_while_the_event_loop_keeps_running(bus, other_process):
    other_process.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(tick())
    sending = asyncio.create_task(bus.send("orders", message("m1")))
    try:
        await asyncio.sleep(0.3)
        assert not sending.done()
        assert ticks >= 10, f"the event loop ran {ticks} times in 0.3 s while the send waited"
        other_process.execute("COMMIT")
        assert await asyncio.wait_for(sending, timeout=2) is True
    finally:
        ticking.cancel()
    received = await bus.receive("orders", "push")
    assert received is not None
    assert received.message_id == "m1"


async def test_a_write_gives_up_after_busy_wait_and_the_bus_stays_usable(tmp_path, other_process):
    bus = LocalBus(tmp_path / "bus.sqlite3", parse_topology(topology()), clock=FakeClock(), busy_wait=0.2)
    try:
        other_process.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await bus.send("orders", message("m1"))
        other_process.execute("ROLLBACK")
        assert await bus.send("orders", message("m2")) is True
        assert await bus.count_active("orders", "push") == 1
    finally:
        bus.close()


async def test_a_cancelled_wait_holds_no_lock(bus, other_process):
    other_process.execute("BEGIN IMMEDIATE")
    waiting = asyncio.create_task(bus.send("orders", message("m1")))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    other_process.execute("ROLLBACK")
    assert await asyncio.wait_for(bus.send("orders", message("m2")), timeout=1) is True
    other_process.execute("BEGIN IMMEDIATE")  # the bus's connection holds no transaction either
    other_process.execute("ROLLBACK")
    assert [m.message_id for m in await bus.receive_batch("orders", "push", max_count=5)] == ["m2"]
