"""The local bus shared by several processes (as several Function App instances share one subscription): SQLite's
write lock makes each receive atomic across processes, so no message is handed to two receivers at once and each
completed message is received exactly once; a message whose holder died comes back to another process."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local.bus import LocalBus, ReceivedMessage, load_topology, schema
from shared.domain.records import OutgoingMessage
from tests.support.stack import ROOT, poll_until

pytestmark = pytest.mark.local

TOPOLOGY = ROOT / "tests" / "local" / "devhost_fixtures" / "servicebus-topology.json"
TOPIC, SUBSCRIPTION = "orders", "push"
_WORK_SECONDS = 0.005


def receive_until_empty(
    bus_file: str,
    out_file: str,
    complete: bool,
    first_wait: float,
    limit: int,
    topology: str = str(TOPOLOGY),
    drained_ends_wait: bool = False,
) -> None:
    """A receiver process: lock, record and (when ``complete``) complete messages until none is left for 1 s or
    ``limit`` were received (waiting up to ``first_wait`` s for the first one; with ``drained_ends_wait``, less
    once the subscription, seen holding messages, holds none at all, locked or not: others completed them all)."""
    bus = LocalBus(Path(bus_file), load_topology(Path(topology)), poll_interval=0.01)
    received: list[tuple[str, int]] = []
    seen_messages = False

    async def next_message(wait: float) -> ReceivedMessage | None:
        nonlocal seen_messages
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            if message := await bus.receive(TOPIC, SUBSCRIPTION, max_wait=min(left, 0.2)):
                return message
            if drained_ends_wait:
                active = await bus.count_active(TOPIC, SUBSCRIPTION)
                if seen_messages and active == 0:
                    return None
                seen_messages = seen_messages or active > 0
        return None

    async def run() -> None:
        wait = first_wait
        while len(received) < limit and (message := await next_message(wait)):
            wait = 1.0
            received.append((message.message_id, message.delivery_count))
            if complete:
                # A few ms of work per message, as an invocation has: without it one process could drain the
                # whole subscription between two polls of the others on a busy machine, and share nothing.
                await asyncio.sleep(_WORK_SECONDS)
                await bus.complete(message.lock_token)

    Path(out_file + ".ready").touch()
    try:
        asyncio.run(run())
    finally:
        bus.close()
    Path(out_file).write_text(json.dumps(received), encoding="utf-8")


def publish(bus_file: Path, ids: list[str], topology: Path = TOPOLOGY) -> None:
    properties = {"source": "/lob/orders"}  # the subscription's SQL filter
    messages = [OutgoingMessage(i, "s", "application/json", b"{}", dict(properties)) for i in ids]

    async def run() -> None:
        bus = LocalBus(bus_file, load_topology(topology))
        try:
            for start in range(0, len(ids), 50):
                await bus.publish(TOPIC, messages[start : start + 50])
        finally:
            bus.close()

    asyncio.run(run())


def short_lock_topology(target: Path) -> Path:
    """The fixture topology with the subscription's lock cut to 3 s (still far longer than taking 20 messages), so
    waiting for a dead holder's locks to run out costs 2 s rather than 5."""
    config = json.loads(TOPOLOGY.read_text(encoding="utf-8"))
    for namespace in config["UserConfig"]["Namespaces"]:
        for topic in namespace["Topics"]:
            for subscription in topic["Subscriptions"]:
                if (topic["Name"], subscription["Name"]) == (TOPIC, SUBSCRIPTION):
                    subscription["Properties"]["LockDuration"] = "PT3S"
    target.write_text(json.dumps(config), encoding="utf-8")
    return target


def run_receivers(
    bus_file: Path,
    workdir: Path,
    processes: int,
    *,
    complete: bool,
    first_wait: float,
    then: Callable[[], object],
    limit: int = 10**9,
    topology: Path = TOPOLOGY,
    drained_ends_wait: bool = False,
) -> list[list[tuple[str, int]]]:
    """Start ``processes`` receivers, call ``then`` once all of them are waiting, and return what each received,
    as (message id, delivery count)."""
    workdir.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")
    outputs = [workdir / f"received-{n}.json" for n in range(processes)]
    workers = [
        context.Process(
            target=receive_until_empty,
            args=(str(bus_file), str(out), complete, first_wait, limit, str(topology), drained_ends_wait),
        )
        for out in outputs
    ]
    for worker in workers:
        worker.start()
    ready = [out.with_name(out.name + ".ready") for out in outputs]
    assert poll_until(lambda: all(marker.exists() for marker in ready), timeout=60), "receivers never started"
    then()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0, f"receiver exited with {worker.exitcode}"
    return [[(str(i), int(c)) for i, c in json.loads(out.read_text(encoding="utf-8"))] for out in outputs]


def open_bus_file(bus_file: str, start: Any, results: Any) -> None:
    """An opener process: wait for the others, then open (and so create) the bus file; put what happened."""
    start.wait()
    try:
        schema.connect(Path(bus_file)).close()
    except sqlite3.Error as exc:
        results.put(repr(exc))
    else:
        results.put("opened")


class TestLocalBusAcrossProcesses:
    def test_processes_creating_one_bus_file_at_once_all_open_it(self, tmp_path: Path):
        """Dev hosts started together on a new bus: switching the new file to WAL answers SQLITE_BUSY at once to
        all but one (no busy wait); each must still open it. Before the retry about one opener in twenty failed."""
        context = multiprocessing.get_context("fork")  # quick to start, so the openers really race
        outcomes: list[str] = []
        for attempt in range(20):
            start, results = context.Barrier(6), context.Queue()
            bus_file = str(tmp_path / f"bus-{attempt}.sqlite3")
            openers = [context.Process(target=open_bus_file, args=(bus_file, start, results)) for _ in range(6)]
            for opener in openers:
                opener.start()
            outcomes += [results.get(timeout=60) for _ in openers]
            for opener in openers:
                opener.join(timeout=60)
        assert outcomes == ["opened"] * 120

    def test_four_processes_receive_every_message_exactly_once(self, tmp_path: Path):
        bus_file = tmp_path / "bus.sqlite3"
        ids = [f"m{n}" for n in range(400)]
        per_process = run_receivers(
            bus_file, tmp_path, 4, complete=True, first_wait=30, then=lambda: publish(bus_file, ids),
            drained_ends_wait=True,
        )  # fmt: skip
        received = [message_id for got in per_process for message_id, _ in got]
        assert sorted(received) == sorted(ids)
        assert all(count == 1 for got in per_process for _, count in got)
        assert sum(1 for got in per_process if got) >= 2, "only one process ever received: nothing was shared"

    def test_a_message_whose_holder_died_comes_back_to_another_process(self, tmp_path: Path):
        """The first process locks every message and exits without settling; once the locks run out the others
        receive them again, with the delivery count raised."""
        bus_file, topology = tmp_path / "bus.sqlite3", short_lock_topology(tmp_path / "topology.json")
        ids = [f"m{n}" for n in range(20)]
        publish(bus_file, ids, topology)
        first = tmp_path / "first"
        (held,) = run_receivers(
            bus_file, first, 1, complete=False, first_wait=5, then=lambda: None, limit=len(ids), topology=topology
        )
        assert sorted(i for i, _ in held) == sorted(ids)
        lock_seconds = load_topology(topology).topic(TOPIC).subscription(SUBSCRIPTION).lock_duration.total_seconds()
        # The receivers wait for the messages to become receivable again: the dead holder's locks running out.
        per_process = run_receivers(
            bus_file, tmp_path / "second", 2, complete=True, first_wait=lock_seconds + 10, then=lambda: None,
            topology=topology, drained_ends_wait=True,
        )  # fmt: skip
        again = [(message_id, count) for got in per_process for message_id, count in got]
        assert sorted(i for i, _ in again) == sorted(ids)
        assert {count for _, count in again} == {2}
