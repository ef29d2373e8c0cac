"""The batch delivery use case with in-memory ports: what one-by-one delivery gives, with batched log writes."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bench.batch_dispatch import BatchLimits, deliver_batch
from shared.adapters.delivery_log_grouping import GroupingDeliveryLog
from shared.domain.errors import ConflictError, PushRejectedError, UpstreamError, UpstreamUnavailableError
from shared.domain.events import event_key
from shared.domain.publishing import topic_for
from shared.domain.records import DeliveryState
from shared.domain.simulated_events import simulate_event
from shared.usecases.delivery import DeliveryInProgressError, DeliveryPorts, DispatchResult, IncomingMessage
from tests.fakes import in_memory_delivery_ports

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def news(count: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    return [simulate_event("hr.employee.joined", rng, now=NOW) for _ in range(count)]


def message(cloud_event: dict, *, delivery_count: int = 1, body: bytes | None = None) -> IncomingMessage:
    return IncomingMessage(
        topic=topic_for(cloud_event["type"]),
        subscription="push",
        message_id=cloud_event["id"],
        body=body if body is not None else json.dumps(cloud_event).encode(),
        content_type="application/cloudevents+json",
        delivery_count=delivery_count,
    )


def pushed(ports: DeliveryPorts, cloud_event: dict) -> int:
    return sum(cloud_event["id"] in notification.body for notification, _ in ports.push.sends)  # type: ignore[attr-defined]


@pytest.fixture
def ports() -> DeliveryPorts:
    return in_memory_delivery_ports(NOW)


class TestDeliverBatch:
    async def test_each_event_is_pushed_once_with_one_claim_and_one_finish_call(self, ports):
        inner = ports.deliveries
        ports = replace(ports, deliveries=GroupingDeliveryLog(inner))  # as bench.pipeline builds the batch shape's log
        events = news(25)
        results = await deliver_batch([message(e) for e in events], ports)
        assert results == [DispatchResult.SENT] * 25
        assert [pushed(ports, e) for e in events] == [1] * 25
        assert inner.batch_calls == 2
        for e in events:
            assert (await ports.deliveries.get(event_key(e["source"], e["id"]), "push")).state is DeliveryState.SENT

    async def test_the_same_event_twice_in_a_batch_is_pushed_once(self, ports):
        [first, second] = news(2)
        results = await deliver_batch([message(first), message(second), message(first)], ports)
        assert results == [DispatchResult.SENT, DispatchResult.SENT, DispatchResult.DUPLICATE]
        assert pushed(ports, first) == 1

    async def test_a_redelivered_batch_pushes_nothing_again(self, ports):
        events = news(5)
        await deliver_batch([message(e) for e in events], ports)
        again = await deliver_batch([message(e, delivery_count=2) for e in events], ports)
        assert again == [DispatchResult.DUPLICATE] * 5
        assert len(ports.push.sends) == 5

    async def test_poison_is_quarantined_and_the_rest_of_the_batch_delivered(self, ports):
        [good] = news(1)
        poison = IncomingMessage(topic="hr", subscription="push", message_id="bad", body=b"{nope")
        wrong_topic = replace(message(good), topic="orders", message_id="elsewhere")
        results = await deliver_batch([poison, message(good), wrong_topic], ports)
        assert results == [DispatchResult.QUARANTINED, DispatchResult.SENT, DispatchResult.QUARANTINED]
        assert sorted(item.reason for item in await ports.quarantine.list()) == ["invalid_json", "unroutable"]

    async def test_a_permanent_nh_refusal_is_quarantined_without_failing_the_batch(self, ports):
        refused, fine = news(2)
        ports.push.fail_events[refused["id"]] = PushRejectedError("Bad payload")
        results = await deliver_batch([message(refused), message(fine)], ports)
        assert results == [DispatchResult.QUARANTINED, DispatchResult.SENT]
        assert (
            await ports.deliveries.get(event_key(refused["source"], refused["id"]), "push")
        ).state is DeliveryState.FAILED

    async def test_an_empty_batch_does_nothing(self, ports):
        assert await deliver_batch([], ports) == []
        assert ports.deliveries.batch_calls == 0

    async def test_messages_of_two_subscriptions_are_refused(self, ports):
        [e] = news(1)
        with pytest.raises(ValueError, match="one subscription"):
            await deliver_batch([message(e), replace(message(e), subscription="audit")], ports)


class TestHandingBack:
    async def test_a_transient_failure_finishes_the_rest_and_hands_the_batch_back(self, ports):
        events = news(6)
        throttled = events[2]
        ports.push.fail_events[throttled["id"]] = UpstreamUnavailableError("throttled", retry_after=1)
        with pytest.raises(UpstreamUnavailableError):
            await deliver_batch([message(e) for e in events], ports)
        assert (
            await ports.deliveries.get(event_key(throttled["source"], throttled["id"]), "push")
        ).state is DeliveryState.RELEASED
        assert all(pushed(ports, e) == 1 for e in events if e is not throttled)

        del ports.push.fail_events[throttled["id"]]
        again = await deliver_batch([message(e, delivery_count=2) for e in events], ports)
        assert again.count(DispatchResult.SENT) == 1
        assert again.count(DispatchResult.DUPLICATE) == 5
        assert [pushed(ports, e) for e in events] == [1] * 6

    async def test_the_batch_is_held_by_the_backoff_of_its_most_delivered_message(self, ports):
        asked: list[int] = []
        ports = replace(ports, redelivery_backoff=lambda count: asked.append(count) or 0.0)
        first, second = news(2)
        ports.push.fail_events[first["id"]] = UpstreamUnavailableError("throttled", retry_after=1)
        with pytest.raises(UpstreamUnavailableError):
            await deliver_batch([message(first, delivery_count=2), message(second, delivery_count=4)], ports)
        assert asked == [4]

    async def test_the_hold_never_passes_the_batch_budget(self, ports):
        """Azure renews no locks for batches: holding 30 s on top of the work could outlive the PT1M lock."""
        ports = replace(ports, redelivery_backoff=lambda _count: 30.0)
        [e] = news(1)
        ports.push.fail_events[e["id"]] = UpstreamUnavailableError("throttled", retry_after=1)
        started = asyncio.get_running_loop().time()
        with pytest.raises(UpstreamUnavailableError):
            await deliver_batch([message(e)], ports, BatchLimits(hold_budget=0.05))
        assert asyncio.get_running_loop().time() - started < 1.0

    async def test_storage_down_before_claiming_hands_the_batch_back_without_a_push(self, ports):
        ports.deliveries.fail_claim_many = [UpstreamUnavailableError("tables down")]
        with pytest.raises(UpstreamUnavailableError):
            await deliver_batch([message(e) for e in news(3)], ports)
        assert ports.push.sends == []

    async def test_a_permanent_storage_error_is_raised_at_once(self, ports):
        asked: list[int] = []
        ports = replace(ports, redelivery_backoff=lambda count: asked.append(count) or 0.0)
        ports.deliveries.fail_claim_many = [UpstreamError("forbidden")]
        with pytest.raises(UpstreamError):
            await deliver_batch([message(e) for e in news(2)], ports)
        assert asked == []


class TestOtherDeliveries:
    async def test_an_event_another_delivery_holds_is_waited_for_and_not_pushed_twice(self, ports):
        [held, free] = news(2)
        claim = await ports.deliveries.claim(
            event_key(held["source"], held["id"]), "push", now=NOW, stale_after=ports.stale_after
        )

        async def other_delivery_finishes() -> None:
            await asyncio.sleep(0.05)
            record = await ports.deliveries.get(event_key(held["source"], held["id"]), "push")
            await ports.deliveries.finish(claim, replace(record, state=DeliveryState.SENT))

        results, _ = await asyncio.gather(
            deliver_batch([message(held), message(free)], ports), other_delivery_finishes()
        )
        assert results == [DispatchResult.DUPLICATE, DispatchResult.SENT]
        assert pushed(ports, held) == 0

    async def test_a_claim_held_past_the_budget_hands_the_batch_back(self, ports):
        [held, free] = news(2)
        await ports.deliveries.claim(
            event_key(held["source"], held["id"]), "push", now=NOW, stale_after=ports.stale_after
        )
        with pytest.raises(DeliveryInProgressError):
            await deliver_batch([message(held), message(free)], ports, BatchLimits(hold_budget=0.05))
        assert pushed(ports, free) == 1  # delivered and recorded: the redelivery will find it done
        assert (await ports.deliveries.get(event_key(free["source"], free["id"]), "push")).state is DeliveryState.SENT


class TestRecording:
    async def test_a_storage_blip_while_recording_is_retried(self, ports):
        events = news(3)
        ports.deliveries.fail_finish = [UpstreamUnavailableError("tables down")]
        assert await deliver_batch([message(e) for e in events], ports) == [DispatchResult.SENT] * 3
        states = {(await ports.deliveries.get(event_key(e["source"], e["id"]), "push")).state for e in events}
        assert states == {DeliveryState.SENT}

    async def test_storage_down_after_the_sends_never_hands_the_batch_back(self, ports):
        events = news(3)
        ports.deliveries.fail_finish = [UpstreamUnavailableError("tables down")] * 100
        assert await deliver_batch([message(e) for e in events], ports) == [DispatchResult.SENT] * 3
        assert len(ports.push.sends) == 3

    async def test_a_claim_taken_over_during_the_send_is_logged_not_raised(self, ports, caplog):
        [e] = news(1)
        ports.deliveries.fail_finish = [ConflictError("taken over")]
        assert await deliver_batch([message(e)], ports) == [DispatchResult.SENT]
        assert "taken over" in caplog.text

    async def test_outcomes_are_recorded_while_the_rest_of_the_batch_is_still_sending(self, ports):
        """The crash window stays one Tables round trip per push, not the length of the batch."""
        quick, slow = news(2)
        recorded_before_slow_finished: list[DeliveryState] = []
        inner_send = ports.push.send

        async def send(notification, *, tag_expression=None):
            if slow["id"] in notification.body:
                for _ in range(100):
                    record = await ports.deliveries.get(event_key(quick["source"], quick["id"]), "push")
                    if record.state is DeliveryState.SENT:
                        break
                    await asyncio.sleep(0.001)
                recorded_before_slow_finished.append(record.state)
            return await inner_send(notification, tag_expression=tag_expression)

        ports.push.send = send
        assert await deliver_batch([message(quick), message(slow)], ports) == [DispatchResult.SENT] * 2
        assert recorded_before_slow_finished == [DeliveryState.SENT]
