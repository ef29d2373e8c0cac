"""Scheduled messages on the local bus and the Service Bus adapter: held back until their enqueue time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from local.bus import LocalBus, parse_topology
from shared.adapters.service_bus import to_service_bus_message
from tests.local.bus_support import FakeClock, message, topology

pytestmark = pytest.mark.local


def bus_at(tmp_path: Path, clock: FakeClock, **kwargs) -> LocalBus:
    return LocalBus(tmp_path / "bus.sqlite3", parse_topology(topology(**kwargs)), clock=clock)


def due_in(clock: FakeClock, seconds: float) -> datetime:
    return datetime.fromtimestamp(clock.now + seconds, UTC)


class TestScheduledMessages:
    async def test_a_scheduled_message_is_not_received_before_its_time_and_is_received_after(self, tmp_path: Path):
        clock = FakeClock()
        bus = bus_at(tmp_path, clock)
        await bus.publish("orders", [replace(message("later"), scheduled_enqueue_time=due_in(clock, 30))])
        assert await bus.receive("orders", "push") is None
        clock.advance(29)
        assert await bus.receive("orders", "push") is None
        clock.advance(1)
        received = await bus.receive("orders", "push")
        assert received is not None
        assert received.message_id == "later"
        assert received.enqueued_time == due_in(clock, 0)
        assert (await bus.receive("orders", "audit")) is not None  # every subscription gets its copy

    async def test_a_scheduled_message_is_counted_as_scheduled_until_it_is_enqueued(self, tmp_path: Path):
        clock = FakeClock()
        bus = bus_at(tmp_path, clock)
        await bus.publish("orders", [replace(message("later"), scheduled_enqueue_time=due_in(clock, 30))])
        assert (await bus.count_scheduled("orders"), await bus.count_active("orders", "push")) == (1, 0)
        clock.advance(30)
        assert await bus.receive("orders", "push") is not None
        assert (await bus.count_scheduled("orders"), await bus.count_active("orders", "push")) == (0, 1)

    async def test_a_time_in_the_past_enqueues_at_once(self, tmp_path: Path):
        clock = FakeClock()
        bus = bus_at(tmp_path, clock)
        await bus.publish("orders", [replace(message("now"), scheduled_enqueue_time=due_in(clock, -5))])
        received = await bus.receive("orders", "push")
        assert received is not None
        assert received.message_id == "now"

    async def test_duplicate_detection_drops_a_second_send_of_the_same_scheduled_id(self, tmp_path: Path):
        clock = FakeClock()
        bus = bus_at(tmp_path, clock, topic_props={"RequiresDuplicateDetection": True})
        first = replace(message("step-1"), scheduled_enqueue_time=due_in(clock, 10))
        assert await bus.send("orders", first) is True
        assert await bus.send("orders", replace(first, scheduled_enqueue_time=due_in(clock, 20))) is False
        clock.advance(60)
        assert (await bus.receive("orders", "push")) is not None
        assert await bus.receive("orders", "push") is None

    async def test_filters_apply_when_the_message_is_enqueued(self, tmp_path: Path):
        clock = FakeClock()
        rules = {
            "audit": [
                {
                    "Name": "$Default",
                    "Properties": {"FilterType": "Sql", "SqlFilter": {"SqlExpression": "kind = 'step'"}},
                }
            ]
        }
        bus = bus_at(tmp_path, clock, rules=rules)
        await bus.publish("orders", [replace(message("s", kind="step"), scheduled_enqueue_time=due_in(clock, 5))])
        await bus.publish("orders", [replace(message("e"), scheduled_enqueue_time=due_in(clock, 5))])
        clock.advance(5)
        audit = await bus.receive_batch("orders", "audit", max_count=10)
        assert [m.message_id for m in audit] == ["s"]

    async def test_a_scheduled_message_survives_a_restart_of_the_bus(self, tmp_path: Path):
        clock = FakeClock()
        bus = bus_at(tmp_path, clock)
        await bus.publish("orders", [replace(message("kept"), scheduled_enqueue_time=due_in(clock, 10))])
        bus.close()
        clock.advance(10)
        reopened = bus_at(tmp_path, clock)
        received = await reopened.receive("orders", "push")
        assert received is not None
        assert received.message_id == "kept"


class TestServiceBusAdapter:
    def test_the_wire_message_carries_the_scheduled_enqueue_time(self):
        due = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
        wire = to_service_bus_message(replace(message("m"), scheduled_enqueue_time=due))
        assert wire.scheduled_enqueue_time_utc == due

    def test_an_unscheduled_message_has_none(self):
        assert to_service_bus_message(message("m")).scheduled_enqueue_time_utc is None
