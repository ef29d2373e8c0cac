"""The decision ledger as the delivery use case fills it: one decision per event and recipient, with its reason;
a broken ledger never breaks a delivery. In-memory ports, a fixed clock."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from shared.domain.decisions import Channel, Decision, Outcome, Reason, explain_broadcast
from shared.domain.errors import PushRejectedError, UpstreamUnavailableError
from shared.domain.publishing import topic_for
from shared.domain.records import InstallationRecord, Platform, Preferences, QuietHours
from shared.domain.simulated_events import simulate_event
from shared.usecases import decisions as decision_cases
from shared.usecases.decisions import AudienceSizes
from shared.usecases.delivery import DeliveryPorts, DispatchResult, IncomingMessage, deliver_message
from tests.fakes import InMemoryDecisionLedger, InMemoryInstallationMirror, RecordingMetrics, in_memory_delivery_ports

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ENQUEUED = NOW - timedelta(seconds=3)


def event(event_type: str, **data: object) -> dict:
    cloud_event = simulate_event(event_type, random.Random(7), now=NOW, user_ids=["alice"])
    cloud_event.pop("time", None)  # the ledger then orders by the bus's enqueued time
    cloud_event["data"].update(data)
    return cloud_event


def message(cloud_event: dict, *, body: bytes | None = None, delivery_count: int = 1) -> IncomingMessage:
    return IncomingMessage(
        topic=topic_for(cloud_event["type"]),
        subscription="push",
        message_id=cloud_event["id"],
        body=body if body is not None else json.dumps(cloud_event).encode(),
        content_type="application/cloudevents+json",
        delivery_count=delivery_count,
        enqueued_time=ENQUEUED,
    )


def device(user: str, installation_id: str, tags: tuple[str, ...]) -> InstallationRecord:
    return InstallationRecord(
        user_id=user, installation_id=installation_id, platform=Platform.APNS, push_channel_hash="h",
        push_channel_hint="abcd", language="en", interests=(), tags=tags, state="active", created_at=NOW,
        updated_at=NOW,
    )  # fmt: skip


@pytest.fixture
def mirror() -> InMemoryInstallationMirror:
    installations = InMemoryInstallationMirror()
    installations.rows[("alice", "alice-phone")] = device("alice", "alice-phone", ("user:alice", "topic:hr"))
    installations.rows[("bob", "bob-phone")] = device("bob", "bob-phone", ("user:bob", "topic:finance"))
    return installations


@pytest.fixture
def ports(mirror: InMemoryInstallationMirror) -> DeliveryPorts:
    return replace(
        in_memory_delivery_ports(NOW),
        ledger=InMemoryDecisionLedger(),
        installations=mirror,
        audience_sizes=AudienceSizes(mirror),
        metrics=RecordingMetrics(),
        trace_id=lambda: "4bf92f3577b34da6a3ce929d0e0e4736",
    )


def only(ports: DeliveryPorts) -> Decision:
    assert isinstance(ports.ledger, InMemoryDecisionLedger)
    [decision] = ports.ledger.decisions
    return decision


class TestDecisionsOfTheDeliveryUseCase:
    async def test_a_sent_alert_records_the_channel_notification_id_trace_and_latency(self, ports):
        approval = event("finance.budget_approval.requested", approverId="alice")
        assert await deliver_message(message(approval), ports) is DispatchResult.SENT
        decision = only(ports)
        assert (decision.outcome, decision.reason, decision.channel) == (Outcome.SENT, Reason.DELIVERED, Channel.PUSH)
        assert (decision.event_id, decision.user_id, decision.notification_id) == (approval["id"], "alice", "n1")
        assert decision.nh_outcome == "enqueued"
        assert decision.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert decision.occurred_at == ENQUEUED
        assert decision.latency_ms == pytest.approx(3000)
        assert ports.metrics.accepted == [("finance.budget_approval.requested", pytest.approx(3.0))]
        assert ports.metrics.received == ["finance.budget_approval.requested"]

    async def test_a_debit_under_the_threshold_is_suppressed_with_its_reason(self, ports):
        debit = event("accounts.debit.posted", ownerId="alice", amount="12.50")
        assert await deliver_message(message(debit), ports) is DispatchResult.SKIPPED
        decision = only(ports)
        assert (decision.outcome, decision.reason, decision.user_id) == (Outcome.SUPPRESSED, "below_threshold", "alice")
        assert ports.push.sends == []
        assert ports.metrics.decisions == [("suppressed", "below_threshold", "push")]

    async def test_a_recipient_without_any_device_is_suppressed_and_nothing_is_sent(self, ports):
        approval = event("finance.budget_approval.requested", approverId="carmen")
        assert await deliver_message(message(approval), ports) is DispatchResult.SKIPPED
        decision = only(ports)
        assert (decision.outcome, decision.reason, decision.user_id) == (Outcome.SUPPRESSED, "no_device", "carmen")
        assert ports.push.sends == []

    async def test_an_alert_in_quiet_hours_is_deferred_and_still_has_its_notification(self, ports):
        await ports.preferences.put(
            Preferences(user_id="alice", quiet_hours=QuietHours(start=time(11), end=time(13), time_zone="UTC"))
        )
        approval = event("finance.budget_approval.requested", approverId="alice")
        assert await deliver_message(message(approval), ports) is DispatchResult.SENT
        decision = only(ports)
        assert (decision.outcome, decision.reason, decision.notification_id) == (Outcome.DEFERRED, "quiet_hours", "n1")
        assert "silently" in (decision.detail or "")

    async def test_a_broadcast_is_one_record_with_the_expression_and_the_audience_size(self, ports):
        news = event("hr.employee.joined")
        assert await deliver_message(message(news), ports) is DispatchResult.SENT
        decision = only(ports)
        assert decision.user_id is None
        assert decision.audience == "(topic:hr) && alert"
        assert decision.audience_size == 1  # alice follows HR, bob does not

    async def test_a_message_that_is_not_json_is_quarantined_under_its_message_id(self, ports):
        news = event("hr.employee.joined")
        await deliver_message(message(news, body=b"{not json"), ports)
        decision = only(ports)
        assert (decision.outcome, decision.reason, decision.event_id) == (
            Outcome.QUARANTINED,
            "invalid_json",
            news["id"],
        )
        assert ports.metrics.dead_letters == [("quarantine", "invalid_json")]

    async def test_a_send_nh_refuses_for_good_is_quarantined_for_its_recipient_with_the_cause(self, ports):
        ports.push.fail_sends.append(PushRejectedError("InvalidSignature", cause="auth"))
        approval = event("finance.budget_approval.requested", approverId="alice")
        assert await deliver_message(message(approval), ports) is DispatchResult.QUARANTINED
        decision = only(ports)
        assert (decision.outcome, decision.reason, decision.user_id) == (Outcome.QUARANTINED, "nh_rejected", "alice")
        assert "InvalidSignature" in (decision.detail or "")

    async def test_a_transient_failure_is_failed_with_its_cause_and_a_later_success_replaces_it(self, ports):
        ports.push.fail_sends.append(UpstreamUnavailableError("429", retry_after=1, cause="throttled"))
        approval = event("finance.budget_approval.requested", approverId="alice")
        with pytest.raises(UpstreamUnavailableError):
            await deliver_message(message(approval), ports)
        failed = only(ports)
        assert (failed.outcome, failed.reason, failed.attempt, failed.dead_lettered) == (
            Outcome.FAILED, "throttled", 1, False,
        )  # fmt: skip
        assert await deliver_message(message(approval, delivery_count=2), ports) is DispatchResult.SENT
        sent = only(ports)
        assert (sent.outcome, sent.attempt) == (Outcome.SENT, 2)

    async def test_a_transient_failure_on_the_last_delivery_is_marked_dead_lettered(self, ports):
        ports.push.fail_sends.append(UpstreamUnavailableError("timed out", cause="timeout"))
        approval = event("finance.budget_approval.requested", approverId="alice")
        with pytest.raises(UpstreamUnavailableError):
            await deliver_message(message(approval, delivery_count=ports.max_delivery_count), ports)
        decision = only(ports)
        assert (decision.reason, decision.dead_lettered) == ("timeout", True)
        assert ports.metrics.dead_letters == [("deadletter", "timeout")]

    async def test_a_ledger_that_is_down_does_not_stop_the_push(self, ports, caplog):
        ports.ledger.fail_with = UpstreamUnavailableError("Tables answered 503", cause="storage")
        approval = event("finance.budget_approval.requested", approverId="alice")
        with caplog.at_level(logging.WARNING, logger="shared.usecases.decisions"):
            assert await deliver_message(message(approval), ports) is DispatchResult.SENT
        assert len(ports.push.sends) == 1
        assert f"event_id={approval['id']} user_id=alice outcome=sent reason=delivered not recorded" in caplog.text

    async def test_a_ledger_that_does_not_answer_holds_a_delivery_for_the_timeout_only(self, ports, monkeypatch):
        monkeypatch.setattr(decision_cases, "RECORD_TIMEOUT", 0.05)
        ports.ledger.hang = True
        approval = event("finance.budget_approval.requested", approverId="alice")
        assert await deliver_message(message(approval), ports) is DispatchResult.SENT
        assert len(ports.push.sends) == 1

    async def test_without_a_ledger_the_use_case_records_nothing_and_checks_no_devices(self):
        plain = in_memory_delivery_ports(NOW)
        approval = event("finance.budget_approval.requested", approverId="carmen")
        assert await deliver_message(message(approval), plain) is DispatchResult.SENT


def broadcast(**changes: object) -> Decision:
    decision = Decision(
        event_id="e1", outcome=Outcome.SENT, reason=Reason.DELIVERED, occurred_at=NOW, decided_at=NOW,
        audience="(topic:hr) && alert", audience_size=3,
    )  # fmt: skip
    return replace(decision, **changes)


class TestExplainBroadcast:
    def test_a_user_whose_device_matches_reads_it_as_sent(self):
        explained = explain_broadcast(broadcast(), "alice", [("user:alice", "topic:hr")])
        assert (explained.outcome, explained.user_id) == (Outcome.SENT, "alice")

    def test_a_user_who_does_not_follow_the_topic_reads_it_as_not_interested(self):
        explained = explain_broadcast(broadcast(), "bob", [("user:bob", "topic:finance")])
        assert (explained.outcome, explained.reason) == (Outcome.SUPPRESSED, Reason.NOT_INTERESTED)
        assert "(topic:hr) && alert" in (explained.detail or "")

    def test_a_user_without_devices_reads_it_as_no_device(self):
        explained = explain_broadcast(broadcast(), "carmen", [])
        assert (explained.outcome, explained.reason) == (Outcome.SUPPRESSED, Reason.NO_DEVICE)

    def test_a_broadcast_that_failed_reads_as_it_failed(self):
        explained = explain_broadcast(broadcast(outcome=Outcome.FAILED, reason="throttled"), "alice", [])
        assert (explained.outcome, explained.reason) == (Outcome.FAILED, "throttled")

    def test_only_broadcasts_are_explained(self):
        with pytest.raises(ValueError, match="broadcast"):
            explain_broadcast(broadcast(user_id="alice"), "alice", [])


def test_the_last_delivery_the_use_case_knows_is_the_subscriptions_max_delivery_count():
    """DeliveryPorts.max_delivery_count marks the failure the broker dead-letters; it must match the topology."""
    from pathlib import Path

    topology = json.loads((Path(__file__).resolve().parents[2] / "infra" / "servicebus-topology.json").read_text())
    counts = {
        subscription["Properties"]["MaxDeliveryCount"]
        for namespace in topology["UserConfig"]["Namespaces"]
        for topic in namespace["Topics"]
        for subscription in topic["Subscriptions"]
        if subscription["Name"] == "push"
    }
    assert counts == {in_memory_delivery_ports(NOW).max_delivery_count}


class _CountingMirror(InMemoryInstallationMirror):
    """Counts whole-mirror reads; each read yields to the loop, as a Tables query does."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def list_all(self) -> list[InstallationRecord]:
        self.reads += 1
        await asyncio.sleep(0.01)
        return await super().list_all()


class TestAudienceSizes:
    async def test_concurrent_broadcasts_that_miss_the_cache_share_one_read_of_the_mirror(self, mirror):
        counting = _CountingMirror()
        counting.rows = dict(mirror.rows)
        sizes = AudienceSizes(counting)
        answers = await asyncio.gather(*(sizes.size("(topic:hr) && alert") for _ in range(16)))
        assert answers == [1] * 16  # alice follows HR, bob does not
        assert counting.reads == 1
        # Another expression within the ttl: counted from a new read, as a lone counter would count it.
        assert await sizes.size("topic:finance") == await AudienceSizes(mirror).size("topic:finance")
        assert counting.reads == 2

    async def test_concurrent_misses_count_the_mirror_once_not_once_each(self, mirror, monkeypatch):
        matched: list[object] = []
        original = decision_cases.matches

        def counting_matches(parsed, tags):
            matched.append(tags)
            return original(parsed, tags)

        monkeypatch.setattr("shared.usecases.decisions.matches", counting_matches)
        sizes = AudienceSizes(mirror)
        answers = await asyncio.gather(*(sizes.size("(topic:hr) && alert") for _ in range(16)))
        assert answers == [1] * 16
        assert len(matched) == len(mirror.rows)
