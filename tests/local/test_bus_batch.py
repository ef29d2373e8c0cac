"""The local bus's batch API: receive_batch (and waiting for messages), complete_many, abandon_many."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from local.bus import LocalBus, parse_topology
from shared.domain.errors import UpstreamError
from tests.local.bus_support import FakeClock, message, open_bus, publish, topology

pytestmark = pytest.mark.local


def polling_bus(tmp_path: Path, clock: FakeClock, *, poll_interval: float) -> LocalBus:
    return LocalBus(tmp_path / "bus.sqlite3", parse_topology(topology()), clock=clock, poll_interval=poll_interval)


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
