"""The local bus's scheduled enqueue (the in-app fallback's durable wait): held until due, then delivered to every
subscription once; duplicate detection applies when scheduled; a restart loses nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from local.bus import LocalBus, parse_topology
from tests.local.bus_support import FakeClock, message, topology

pytestmark = pytest.mark.local


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def due(clock: FakeClock, seconds: float) -> datetime:
    return datetime.fromtimestamp(clock.now + seconds, UTC)


def bus_at(path, clock: FakeClock, **topic_props: object) -> LocalBus:
    return LocalBus(path, parse_topology(topology(topic_props=dict(topic_props))), clock=clock)


class TestScheduled:
    async def test_a_scheduled_message_is_held_until_due_then_reaches_every_subscription(self, tmp_path, clock):
        bus = bus_at(tmp_path / "bus.sqlite3", clock)
        await bus.schedule("orders", [message("later")], due(clock, 5))
        clock.advance(4.9)
        assert await bus.receive("orders", "push") is None
        clock.advance(0.2)
        push = await bus.receive("orders", "push")
        audit = await bus.receive("orders", "audit")
        assert (push.message_id, audit.message_id) == ("later", "later")
        await bus.complete(push.lock_token)
        assert await bus.receive("orders", "push") is None
        bus.close()

    async def test_messages_come_due_in_their_order(self, tmp_path, clock):
        bus = bus_at(tmp_path / "bus.sqlite3", clock)
        await bus.schedule("orders", [message("second")], due(clock, 2))
        await bus.schedule("orders", [message("first")], due(clock, 1))
        clock.advance(3)
        received = [await bus.receive("orders", "push") for _ in range(2)]
        assert [m.message_id for m in received] == ["first", "second"]
        bus.close()

    async def test_duplicate_detection_drops_a_second_copy_scheduled_in_the_window(self, tmp_path, clock):
        bus = bus_at(
            tmp_path / "bus.sqlite3", clock, RequiresDuplicateDetection=True, DuplicateDetectionHistoryTimeWindow="PT5M"
        )
        await bus.schedule("orders", [message("once")], due(clock, 1))
        await bus.schedule("orders", [message("once")], due(clock, 2))
        clock.advance(3)
        assert (await bus.receive("orders", "push")).message_id == "once"
        assert await bus.receive("orders", "push") is None
        bus.close()

    async def test_a_scheduled_message_survives_a_restart(self, tmp_path, clock):
        path = tmp_path / "bus.sqlite3"
        bus = bus_at(path, clock)
        await bus.schedule("orders", [message("durable", userId="anna")], due(clock, 5))
        bus.close()
        clock.advance(6)
        reopened = bus_at(path, clock)
        received = await reopened.receive("orders", "push")
        assert received.message_id == "durable"
        assert received.application_properties == {"userId": "anna"}
        assert received.body == message("durable").body
        reopened.close()
