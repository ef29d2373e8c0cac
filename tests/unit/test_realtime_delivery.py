"""Real-time delivery with in-memory ports: channel policy, presence, seen in time or pushed once, SignalR down,
redelivery and resumed deliveries never sending twice, quiet hours and language on both channels."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from shared.domain.catalog import CATALOG
from shared.domain.channels import CHANNEL_POLICIES, FALLBACK_TOPIC, Route, choose_route
from shared.domain.errors import NotFoundError, UpstreamError, UpstreamUnavailableError
from shared.domain.events import event_key
from shared.domain.identity import Identity
from shared.domain.inbox import Decision
from shared.domain.publishing import topic_for
from shared.domain.records import DeliveryState, Preferences, QuietHours
from shared.domain.simulated_events import simulate_event
from shared.usecases.delivery import DispatchResult, IncomingMessage, deliver_message
from shared.usecases.fallback import settle_fallback
from shared.usecases.inbox import mark_read, mark_seen
from tests.fakes import in_memory_realtime_ports
from tests.support.notifications import notification_of

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ANNA = Identity("anna")


def event(event_type: str, seed: int = 1, **data: object) -> dict:
    cloud_event = simulate_event(event_type, random.Random(seed), now=NOW, user_ids=["anna"])
    cloud_event["data"].update(data)
    return cloud_event


def approval(seed: int = 1) -> dict:
    return event("finance.budget_approval.requested", seed, approverId="anna")


def message(cloud_event: dict) -> IncomingMessage:
    return IncomingMessage(
        topic=topic_for(cloud_event["type"]),
        subscription="push",
        message_id=cloud_event["id"],
        body=json.dumps(cloud_event).encode(),
        content_type="application/cloudevents+json",
    )


def fallback_of(ports, index: int = -1) -> IncomingMessage:
    topic, scheduled, _at = ports.publisher.scheduled[index]
    return IncomingMessage(
        topic=topic,
        subscription="fallback",
        message_id=scheduled.message_id,
        body=scheduled.body,
        content_type=scheduled.content_type,
        application_properties=dict(scheduled.application_properties),
    )


@pytest.fixture
def online():
    return in_memory_realtime_ports(NOW, connected=["anna"])


@pytest.fixture
def offline():
    return in_memory_realtime_ports(NOW)


class TestChannelPolicy:
    @pytest.mark.parametrize(
        ("policy", "to_user", "connected", "route"),
        [
            ("push", True, True, Route.PUSH),
            ("inapp-first", True, True, Route.INAPP_CONFIRMED),
            ("inapp-first", True, False, Route.PUSH),
            ("inapp-first", False, True, Route.PUSH),
            ("inapp-and-push", True, True, Route.INAPP_AND_PUSH),
            ("inapp-and-push", True, False, Route.PUSH),
        ],
    )
    def test_route_follows_policy_and_presence(self, policy, to_user, connected, route):
        assert choose_route(policy, addressed_to_user=to_user, connected=connected) is route

    def test_catalog_defaults_broadcasts_push_one_user_inapp_first_debits_both(self):
        assert {CATALOG[t].channels for t in CATALOG if t.startswith("hr.")} == {"push"}
        assert CATALOG["finance.budget_approval.requested"].channels == "inapp-first"
        assert CATALOG["orders.order.shipped"].channels == "inapp-first"
        assert CATALOG["accounts.debit.posted"].channels == "inapp-and-push"

    def test_every_in_app_policy_is_on_an_entry_addressed_to_one_user(self):
        for entry in CATALOG.values():
            assert entry.channels in CHANNEL_POLICIES
            if entry.channels != "push":
                assert entry.recipient_field is not None, entry.event_type


class TestInAppFirst:
    async def test_connected_user_gets_it_in_app_only_and_a_fallback_is_scheduled(self, online):
        sent = approval()
        assert await deliver_message(message(sent), online) is DispatchResult.SENT
        [(user, target, [payload])] = online.realtime.sent
        assert (user, target) == ("anna", "notification")
        assert payload["id"] == notification_of(sent)
        assert payload["title"] == "Approval needed"
        assert {"type", "body", "createdAt", "deepLink", "data"} <= set(payload)
        assert online.push.sends == []
        [(topic, scheduled, at)] = online.publisher.scheduled
        assert (topic, at) == (FALLBACK_TOPIC, NOW + timedelta(seconds=5))
        assert scheduled.application_properties["userId"] == "anna"
        record = await online.deliveries.get(event_key(sent["source"], sent["id"]), "push")
        assert (record.state, record.channel, record.outcome) == (
            DeliveryState.SENT,
            "inapp",
            "awaiting-confirmation",
        )

    async def test_user_without_a_connection_gets_the_push_at_once(self, offline):
        sent = approval()
        await deliver_message(message(sent), offline)
        assert offline.realtime.sent == []
        assert len(offline.push.sends) == 1
        assert offline.publisher.scheduled == []
        entry = await offline.inbox.get("anna", notification_of(sent))
        assert (entry.channels, entry.decision) == (("push",), Decision.NONE)
        assert (await offline.deliveries.get(event_key(sent["source"], sent["id"]), "push")).channel == "push"

    async def test_seen_in_time_means_no_push(self, online):
        sent = approval()
        await deliver_message(message(sent), online)
        await mark_seen(online.inbox, ANNA, notification_of(sent), NOW + timedelta(seconds=1))
        assert await settle_fallback(fallback_of(online), online) is DispatchResult.SKIPPED
        assert online.push.sends == []
        entry = await online.inbox.get("anna", notification_of(sent))
        assert (entry.decision, entry.channels, entry.pushed_at) == (Decision.SEEN, ("inapp",), None)
        assert (await online.deliveries.get(event_key(sent["source"], sent["id"]), "fallback")).outcome == "seen-in-app"

    async def test_not_seen_in_time_pushes_exactly_once_even_when_the_fallback_is_redelivered(self, online):
        sent = approval()
        await deliver_message(message(sent), online)
        results = [await settle_fallback(fallback_of(online), online) for _ in range(3)]
        assert results == [DispatchResult.SENT, DispatchResult.DUPLICATE, DispatchResult.DUPLICATE]
        [(notification, audience)] = online.push.sends
        assert audience == "(user:anna) && alert"
        pushed = json.loads(notification.body)
        assert (pushed["eventId"], pushed["notificationId"]) == (sent["id"], notification_of(sent))
        entry = await online.inbox.get("anna", notification_of(sent))
        assert (entry.decision, entry.channels) == (Decision.PUSH, ("inapp", "push"))
        record = await online.deliveries.get(event_key(sent["source"], sent["id"]), "fallback")
        assert (record.state, record.channel, record.outcome) == (DeliveryState.SENT, "push", "not-seen-in-time")

    async def test_seen_after_the_push_was_decided_is_recorded_but_changes_nothing(self, online):
        sent = approval()
        await deliver_message(message(sent), online)
        await settle_fallback(fallback_of(online), online)
        entry = await mark_seen(online.inbox, ANNA, notification_of(sent), NOW + timedelta(seconds=9))
        assert entry.decision is Decision.PUSH
        assert entry.seen_at == NOW + timedelta(seconds=9)
        assert len(online.push.sends) == 1

    async def test_a_fallback_that_fails_mid_push_pushes_once_on_redelivery(self, online):
        """The crash window of the wait: the push decided, NH failing; the bus redelivers the scheduled message."""
        sent = approval()
        await deliver_message(message(sent), online)
        online.push.fail_sends.append(UpstreamUnavailableError("NH 503"))
        with pytest.raises(UpstreamUnavailableError):
            await settle_fallback(fallback_of(online), online)
        assert (await online.inbox.get("anna", notification_of(sent))).decision is Decision.PUSH
        assert await settle_fallback(fallback_of(online), online) is DispatchResult.SENT
        assert await settle_fallback(fallback_of(online), online) is DispatchResult.DUPLICATE
        assert len(online.push.sends) == 1


class TestSignalRTrouble:
    @pytest.mark.parametrize("error", [UpstreamUnavailableError("timeout"), UpstreamError("401")])
    async def test_presence_check_failing_means_push_now(self, online, error):
        online.realtime.down = error
        sent = approval()
        assert await deliver_message(message(sent), online) is DispatchResult.SENT
        assert len(online.push.sends) == 1
        assert online.realtime.sent == []
        assert online.publisher.scheduled == []

    async def test_in_app_send_failing_means_push_now_and_the_fallback_later_pushes_nothing(self, online):
        online.realtime.fail_sends.append(UpstreamUnavailableError("503"))
        sent = approval()
        await deliver_message(message(sent), online)
        assert len(online.push.sends) == 1
        assert (await online.inbox.get("anna", notification_of(sent))).decision is Decision.PUSH
        assert await settle_fallback(fallback_of(online), online) is DispatchResult.SKIPPED
        assert len(online.push.sends) == 1

    async def test_bus_unable_to_schedule_the_fallback_means_push_now(self, online):
        online.publisher.fail_schedule.append(UpstreamUnavailableError("bus down"))
        sent = approval()
        await deliver_message(message(sent), online)
        assert online.realtime.sent == []
        assert len(online.push.sends) == 1


class TestRedelivery:
    async def test_the_same_event_three_times_sends_one_in_app_message_and_no_push(self, online):
        sent = approval()
        results = [await deliver_message(message(sent), online) for _ in range(3)]
        assert results == [DispatchResult.SENT, DispatchResult.DUPLICATE, DispatchResult.DUPLICATE]
        assert len(online.realtime.sent) == 1
        assert online.push.sends == []

    async def test_a_resumed_delivery_after_a_crash_never_sends_in_app_again(self, online):
        """The first delivery died after sending in-app (its claim turned stale): the next one only re-schedules."""
        sent = approval()
        await deliver_message(message(sent), online)
        (key,) = [k for k in online.deliveries.records if k[1] == "push"]
        record, version = online.deliveries.records[key]
        stale = replace(record, state=DeliveryState.CLAIMED, claimed_at=NOW - timedelta(minutes=5))
        online.deliveries.records[key] = (stale, version)
        assert await deliver_message(message(sent), online) is DispatchResult.SENT
        assert len(online.realtime.sent) == 1
        assert online.push.sends == []
        assert len(online.publisher.scheduled) == 2  # scheduled again; the fallback's own claim dedupes the push
        assert await settle_fallback(fallback_of(online, 0), online) is DispatchResult.SENT
        assert await settle_fallback(fallback_of(online, 1), online) is DispatchResult.DUPLICATE
        assert len(online.push.sends) == 1

    async def test_a_push_that_failed_for_now_is_retried_without_an_in_app_message(self, offline):
        offline.push.fail_sends.append(UpstreamUnavailableError("NH 503"))
        sent = approval()
        with pytest.raises(UpstreamUnavailableError):
            await deliver_message(message(sent), offline)
        offline.realtime.connected.add("anna")  # connected by the time the bus redelivers
        assert await deliver_message(message(sent), offline) is DispatchResult.SENT
        assert len(offline.push.sends) == 1
        assert offline.realtime.sent == []


class TestStorageAfterASend:
    async def test_the_inbox_failing_after_the_push_never_pushes_again(self, offline):
        """Found by the storage-outage reliability run: the push went out, then Tables went away."""
        offline.inbox.fail_replace.append(UpstreamUnavailableError("Tables 503"))
        sent = approval()
        assert await deliver_message(message(sent), offline) is DispatchResult.SENT
        assert await deliver_message(message(sent), offline) is DispatchResult.DUPLICATE
        assert len(offline.push.sends) == 1
        assert (await offline.deliveries.get(event_key(sent["source"], sent["id"]), "push")).channel == "push"

    async def test_the_inbox_failing_after_the_in_app_send_never_sends_it_again(self, online):
        online.inbox.fail_replace.append(UpstreamUnavailableError("Tables 503"))
        sent = approval()
        assert await deliver_message(message(sent), online) is DispatchResult.SENT
        assert await deliver_message(message(sent), online) is DispatchResult.DUPLICATE
        assert len(online.realtime.sent) == 1
        assert online.push.sends == []

    async def test_the_inbox_failing_after_the_fallback_push_never_pushes_again(self, online):
        sent = approval()
        await deliver_message(message(sent), online)
        decided = False

        async def fail_after_decision(entry):
            nonlocal decided
            if decided:
                raise UpstreamUnavailableError("Tables 503")
            decided = True
            return await original(entry)

        original = online.inbox.replace
        online.inbox.replace = fail_after_decision
        assert await settle_fallback(fallback_of(online), online) is DispatchResult.SENT
        assert await settle_fallback(fallback_of(online), online) is DispatchResult.DUPLICATE
        assert len(online.push.sends) == 1


class TestInAppAndPush:
    async def test_a_large_debit_goes_both_ways_with_one_id(self, online):
        debit = event("accounts.debit.posted", ownerId="anna", amount="5000.00", currency="EUR")
        await deliver_message(message(debit), online)
        [(_, _, [payload])] = online.realtime.sent
        [(notification, _)] = online.push.sends
        assert payload["id"] == json.loads(notification.body)["notificationId"] == notification_of(debit)
        assert online.publisher.scheduled == []
        entry = await online.inbox.get("anna", notification_of(debit))
        assert entry.channels == ("inapp", "push")
        assert (await online.deliveries.get(event_key(debit["source"], debit["id"]), "push")).channel == "inapp+push"

    async def test_a_debit_under_the_threshold_reaches_neither_channel(self, online):
        await online.preferences.put(Preferences("anna", debit_threshold=Decimal(1000)))
        debit = event("accounts.debit.posted", ownerId="anna", amount="20.00", currency="EUR")
        assert await deliver_message(message(debit), online) is DispatchResult.SKIPPED
        assert online.realtime.sent == []
        assert online.push.sends == []
        assert await online.inbox.get("anna", notification_of(debit)) is None


class TestEventsOfTwoSystemsWithOneId:
    """CloudEvents makes source + id unique, not id: two LoB systems may both number their events 1001."""

    async def test_both_reach_the_user_and_the_inbox_holds_both(self, offline):
        approval_1001 = approval() | {"id": "1001"}
        debit_1001 = event("accounts.debit.posted", ownerId="anna", amount="5000.00", currency="EUR") | {"id": "1001"}
        assert await deliver_message(message(approval_1001), offline) is DispatchResult.SENT
        assert await deliver_message(message(debit_1001), offline) is DispatchResult.SENT
        pushed = [json.loads(notification.body) for notification, _ in offline.push.sends]
        assert [p["notificationId"] for p in pushed] == [notification_of(approval_1001), notification_of(debit_1001)]
        assert notification_of(approval_1001) != notification_of(debit_1001)
        approval_entry = await offline.inbox.get("anna", notification_of(approval_1001))
        debit_entry = await offline.inbox.get("anna", notification_of(debit_1001))
        assert (approval_entry.event_type, debit_entry.event_type) == (
            "finance.budget_approval.requested",
            "accounts.debit.posted",
        )
        # and each one's redelivery still finds its own entry and pushes nothing more
        assert await deliver_message(message(debit_1001), offline) is DispatchResult.DUPLICATE
        assert len(offline.push.sends) == 2


class TestPreferencesOnBothChannels:
    async def test_in_app_text_is_in_the_users_language(self, online):
        await online.preferences.put(Preferences("anna", language="de-AT"))
        sent = event("finance.budget_approval.requested", approverId="anna", amount="1234.50", currency="EUR")
        await deliver_message(message(sent), online)
        [(_, _, [payload])] = online.realtime.sent
        assert (payload["title"], payload["language"]) == ("Freigabe erforderlich", "de")
        assert "1.234,50\xa0€" in payload["body"]
        assert (await online.inbox.get("anna", notification_of(sent))).body == payload["body"]

    async def test_quiet_hours_make_the_in_app_message_and_its_fallback_push_silent(self, online):
        quiet = QuietHours(time(11, 0), time(13, 0), "UTC")
        await online.preferences.put(Preferences("anna", quiet_hours=quiet))
        sent = approval()
        await deliver_message(message(sent), online)
        [(_, _, [payload])] = online.realtime.sent
        assert payload["silent"] is True
        await settle_fallback(fallback_of(online), online)
        [(_, audience)] = online.push.sends
        assert audience == "(user:anna) && silent"


class TestInboxConfirmations:
    async def test_read_implies_seen_and_both_are_idempotent(self, online):
        sent = approval()
        await deliver_message(message(sent), online)
        first = await mark_read(online.inbox, ANNA, notification_of(sent), NOW + timedelta(seconds=2))
        again = await mark_read(online.inbox, ANNA, notification_of(sent), NOW + timedelta(seconds=8))
        assert first.read_at == again.read_at == first.seen_at == NOW + timedelta(seconds=2)
        assert again.decision is Decision.SEEN

    async def test_another_users_notification_is_not_found(self, online):
        sent = approval()
        await deliver_message(message(sent), online)
        with pytest.raises(NotFoundError):
            await mark_seen(online.inbox, Identity("mallory"), notification_of(sent), NOW)
        assert (await online.inbox.get("anna", notification_of(sent))).seen_at is None
