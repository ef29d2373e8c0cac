"""The delivery use case with in-memory ports: one push per event, quarantine, skip, retry and release."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import replace as dc_replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from shared.domain.errors import PushRejectedError, UpstreamUnavailableError
from shared.domain.events import event_key
from shared.domain.publishing import topic_for
from shared.domain.records import DeliveryState, Preferences, QuietHours
from shared.domain.redelivery import default_redelivery_backoff
from shared.domain.simulated_events import simulate_event
from shared.usecases.delivery import (
    DeliveryPorts,
    DispatchResult,
    IncomingMessage,
    deliver_message,
)
from tests.fakes import in_memory_delivery_ports

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def event(event_type: str, seed: int = 1, **data: object) -> dict:
    cloud_event = simulate_event(event_type, random.Random(seed), now=NOW, user_ids=["alice"])
    cloud_event["data"].update(data)
    return cloud_event


def key(cloud_event: dict) -> str:
    """The delivery-log key of an event: its source and id."""
    return event_key(cloud_event["source"], cloud_event["id"])


def message(cloud_event: dict, *, topic: str | None = None, body: bytes | None = None) -> IncomingMessage:
    return IncomingMessage(
        topic=topic or topic_for(cloud_event["type"]),
        subscription="push",
        message_id=cloud_event.get("id"),
        body=body if body is not None else json.dumps(cloud_event).encode(),
        content_type="application/cloudevents+json",
        subject=cloud_event.get("type"),
    )


@pytest.fixture
def ports() -> DeliveryPorts:
    return in_memory_delivery_ports(NOW)


class TestDeliverMessage:
    async def test_sends_one_template_notification_to_the_audience(self, ports):
        approval = event("finance.budget_approval.requested", approverId="alice")
        assert await deliver_message(message(approval), ports) is DispatchResult.SENT
        [(notification, audience)] = ports.push.sends
        assert notification.format == "template"
        assert audience == "(user:alice) && alert"
        properties = json.loads(notification.body)
        assert {"title_en", "title_de", "title_es", "body_en", "body_de", "body_es", "eventId"} <= set(properties)
        record = await ports.deliveries.get(key(approval), "push")
        assert record.state is DeliveryState.SENT
        assert record.notification_id == "n1"

    async def test_the_same_message_three_times_pushes_once(self, ports):
        news = event("hr.employee.joined")
        results = [await deliver_message(message(news), ports) for _ in range(3)]
        assert results == [DispatchResult.SENT, DispatchResult.DUPLICATE, DispatchResult.DUPLICATE]
        assert len(ports.push.sends) == 1

    async def test_the_same_id_from_two_systems_is_two_events(self, ports):
        """/lob/hr's event "42" must not pre-empt /lob/finance's "42": the log keys on source and id together."""
        news = {**event("hr.employee.joined"), "id": "42"}
        approval = {**event("finance.budget_approval.requested", approverId="alice"), "id": "42"}
        assert await deliver_message(message(news), ports) is DispatchResult.SENT
        assert await deliver_message(message(approval), ports) is DispatchResult.SENT
        assert await deliver_message(message(approval), ports) is DispatchResult.DUPLICATE
        assert [audience for _, audience in ports.push.sends] == ["(topic:hr) && alert", "(user:alice) && alert"]
        assert (await ports.deliveries.get("/lob/hr#42", "push")).event_type == "hr.employee.joined"
        assert (await ports.deliveries.get("/lob/finance#42", "push")).event_type.startswith("finance.")

    async def test_an_event_linking_outside_its_systems_allowlist_is_quarantined_unsent(self, ports):
        shipped = event("orders.order.shipped", customerId="alice", trackingUrl="https://evil.example/track?id=1")
        assert await deliver_message(message(shipped), ports) is DispatchResult.QUARANTINED
        [item] = await ports.quarantine.list()
        assert item.reason == "link_not_allowed"
        assert "/data/trackingUrl" in item.description
        assert ports.push.sends == []
        assert await ports.deliveries.get(key(shipped), "push") is None

    async def test_two_concurrent_deliveries_push_once(self, ports):
        news = event("hr.employee.left")
        results = await asyncio.gather(deliver_message(message(news), ports), deliver_message(message(news), ports))
        assert sorted(results) == sorted([DispatchResult.SENT, DispatchResult.DUPLICATE])
        assert len(ports.push.sends) == 1

    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (b"{not json", "invalid_json"),
            (
                json.dumps({"specversion": "1.0", "id": "x", "source": "/lob/hr", "type": "hr.nope", "data": {}}),
                "unknown_type",
            ),
            (
                json.dumps(
                    {"specversion": "1.0", "id": "y", "source": "/lob/hr", "type": "hr.employee.joined", "data": {}}
                ),
                "invalid_payload",
            ),
            (b"{" + b'"a":"' + b"x" * 300_000 + b'"}', "oversized"),
        ],
    )
    async def test_poison_messages_are_quarantined_with_a_reason_and_completed(self, ports, body, reason):
        body = body.encode() if isinstance(body, str) else body
        poison = IncomingMessage(topic="hr", subscription="push", message_id="m-1", body=body)
        assert await deliver_message(poison, ports) is DispatchResult.QUARANTINED
        [item] = await ports.quarantine.list()
        assert item.reason == reason
        assert item.description
        assert item.body == body
        assert ports.push.sends == []
        assert await deliver_message(message(event("hr.employee.joined")), ports) is DispatchResult.SENT

    async def test_an_event_on_the_wrong_topic_is_quarantined_as_unroutable(self, ports):
        debit = event("accounts.debit.posted", amount=500)
        assert await deliver_message(message(debit, topic="hr"), ports) is DispatchResult.QUARANTINED
        [item] = await ports.quarantine.list()
        assert item.reason == "unroutable"

    async def test_a_debit_under_the_owners_threshold_reaches_nobody(self, ports):
        await ports.preferences.put(Preferences(user_id="alice", debit_threshold=Decimal("250")))
        under = event("accounts.debit.posted", ownerId="alice", amount="249.99")
        at = event("accounts.debit.posted", seed=2, ownerId="alice", amount="250.00")
        assert await deliver_message(message(under), ports) is DispatchResult.SKIPPED
        assert await deliver_message(message(at), ports) is DispatchResult.SENT
        assert len(ports.push.sends) == 1
        assert (await ports.deliveries.get(key(under), "push")).state is DeliveryState.SKIPPED

    async def test_an_alert_inside_quiet_hours_goes_out_silently(self, ports):
        quiet = QuietHours(start=time(12, 0), end=time(13, 0), time_zone="UTC")
        await ports.preferences.put(Preferences(user_id="alice", quiet_hours=quiet))
        await deliver_message(message(event("finance.budget_approval.requested", approverId="alice")), ports)
        [(_, audience)] = ports.push.sends
        assert audience == "(user:alice) && silent"

    async def test_transient_nh_failure_releases_the_claim_and_raises_for_redelivery(self, ports):
        news = event("hr.employee.joined")
        ports.push.fail_sends = [UpstreamUnavailableError("throttled", retry_after=1)]
        with pytest.raises(UpstreamUnavailableError):
            await deliver_message(message(news), ports)
        assert (await ports.deliveries.get(key(news), "push")).state is DeliveryState.RELEASED
        assert await deliver_message(message(news), ports) is DispatchResult.SENT
        assert len(ports.push.sends) == 1

    async def test_a_storage_failure_after_the_claim_releases_it_for_the_redelivery(self, ports):
        """Not only NH failures: anything transient after claiming hands the claim back, so nobody waits 90 s."""
        approval = event("finance.budget_approval.requested", approverId="alice")
        ports.preferences.fail_next_get = UpstreamUnavailableError("tables down")
        with pytest.raises(UpstreamUnavailableError):
            await deliver_message(message(approval), ports)
        assert (await ports.deliveries.get(key(approval), "push")).state is DeliveryState.RELEASED
        assert await deliver_message(message(approval), ports) is DispatchResult.SENT

    async def test_permanent_nh_refusal_is_quarantined_and_not_retried(self, ports):
        news = event("hr.employee.joined")
        ports.push.fail_sends = [PushRejectedError("Invalid tag expression")]
        assert await deliver_message(message(news), ports) is DispatchResult.QUARANTINED
        [item] = await ports.quarantine.list()
        assert item.reason == "nh_rejected"
        assert "Invalid tag expression" in item.description
        assert await deliver_message(message(news), ports) is DispatchResult.DUPLICATE

    async def test_a_stale_claim_left_by_a_crash_is_resumed(self, ports):
        news = event("hr.employee.joined")
        claim = await ports.deliveries.claim(
            key(news), "push", now=NOW - timedelta(seconds=5), stale_after=ports.stale_after
        )
        assert claim.status.value == "claimed"
        assert await deliver_message(message(news), ports) is DispatchResult.SENT
        assert (await ports.deliveries.get(key(news), "push")).attempt == 2


class TestRedeliveryBackoff:
    def test_default_backoff_grows_and_is_capped(self):
        assert [default_redelivery_backoff(n) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]

    async def test_a_transient_failure_holds_the_message_before_handing_it_back(self, ports):
        """Without the pause, an outage of seconds would burn every delivery attempt at once."""
        asked: list[int] = []

        def backoff(count: int) -> float:
            asked.append(count)
            return 0.0

        ports = dc_replace(ports, redelivery_backoff=backoff)
        ports.push.fail_sends = [UpstreamUnavailableError("throttled", retry_after=1)]
        news = message(event("hr.employee.joined"))
        third_delivery = IncomingMessage(**{**news.__dict__, "delivery_count": 3})
        with pytest.raises(UpstreamUnavailableError):
            await deliver_message(third_delivery, ports)
        assert asked == [3]

    async def test_permanent_problems_are_not_held(self, ports):
        asked: list[int] = []
        ports = dc_replace(ports, redelivery_backoff=lambda count: asked.append(count) or 0.0)
        poison = IncomingMessage(topic="hr", subscription="push", message_id="m", body=b"{")
        assert await deliver_message(poison, ports) is DispatchResult.QUARANTINED
        assert asked == []


class TestRecordingAfterTheSend:
    async def test_a_storage_blip_after_the_send_is_retried_and_the_message_completes(self, ports):
        news = event("hr.employee.joined")
        ports.deliveries.fail_finish = [UpstreamUnavailableError("tables down")] * 2
        assert await deliver_message(message(news), ports) is DispatchResult.SENT
        assert (await ports.deliveries.get(key(news), "push")).state is DeliveryState.SENT
        assert len(ports.push.sends) == 1

    async def test_storage_down_after_the_send_never_hands_the_message_back(self, ports):
        """Raising now could only push again or dead-letter an event the phone already has."""
        news = event("hr.employee.joined")
        ports.deliveries.fail_finish = [UpstreamUnavailableError("tables down")] * 10
        assert await deliver_message(message(news), ports) is DispatchResult.SENT
        assert len(ports.push.sends) == 1
        assert (await ports.deliveries.get(key(news), "push")).state is DeliveryState.CLAIMED
