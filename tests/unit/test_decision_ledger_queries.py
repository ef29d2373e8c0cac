"""The four questions GET /api/deliveries asks the decision ledger (by event, by user, both, neither), answered by
the use cases from an in-memory ledger and installation mirror."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from shared.domain.decisions import Decision, Outcome, Reason
from shared.domain.records import InstallationRecord, Platform
from shared.usecases.commands import DecisionFeedQuery, EventDeliveriesQuery
from shared.usecases.decision_ledger import decision_feed, deliveries_for_event
from tests.fakes import InMemoryDecisionLedger, InMemoryInstallationMirror

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def decision(event_id: str, user_id: str | None, **changes: object) -> Decision:
    made = Decision(
        event_id=event_id, outcome=Outcome.SENT, reason=Reason.DELIVERED, user_id=user_id, occurred_at=NOW,
        decided_at=NOW, audience=None if user_id else "(topic:hr) && alert",
    )  # fmt: skip
    return replace(made, **changes)


def device(user_id: str, *tags: str) -> InstallationRecord:
    return InstallationRecord(
        user_id=user_id, installation_id=f"{user_id}-phone", platform=Platform.APNS, push_channel_hash="h",
        push_channel_hint="1234", language="en", interests=(), tags=(f"user:{user_id}", *tags), state="active",
        created_at=NOW, updated_at=NOW,
    )  # fmt: skip


async def ledger_with(*decisions: Decision) -> InMemoryDecisionLedger:
    ledger = InMemoryDecisionLedger()
    for made in decisions:
        await ledger.record(made)
    return ledger


class TestByEvent:
    async def test_every_recipients_decision_on_the_event_and_no_other_events(self):
        """Without a user, the event's decisions of every recipient are shown, and nothing of other events."""
        ledger = await ledger_with(decision("e1", "alice"), decision("e1", "bob"), decision("e2", "alice"))
        found = await deliveries_for_event(ledger, InMemoryInstallationMirror(), EventDeliveriesQuery("e1"))
        assert sorted((d.event_id, d.user_id) for d in found.page.items) == [("e1", "alice"), ("e1", "bob")]
        assert found.broadcasts == []

    async def test_since_after_the_event_leaves_nothing_and_before_it_leaves_everything(self):
        """``since`` bounds the event's occurrence: later than the event, the answer is empty."""
        ledger = await ledger_with(decision("e1", "alice"), decision("e1", "bob"))
        mirror = InMemoryInstallationMirror()
        later = await deliveries_for_event(ledger, mirror, EventDeliveriesQuery("e1", since=NOW + timedelta(1)))
        earlier = await deliveries_for_event(ledger, mirror, EventDeliveriesQuery("e1", since=NOW))
        assert later.page.items == []
        assert len(earlier.page.items) == 2


class TestByEventAndUser:
    async def test_only_that_users_decisions_on_that_event(self):
        """A user's view of one event never shows another recipient's decision, nor the user's other events."""
        ledger = await ledger_with(
            decision("e1", "alice", outcome=Outcome.SUPPRESSED, reason=Reason.BELOW_THRESHOLD),
            decision("e1", "bob"),
            decision("e2", "alice"),
        )
        query = EventDeliveriesQuery("e1", user_id="alice")
        found = await deliveries_for_event(ledger, InMemoryInstallationMirror(), query)
        assert [(d.event_id, d.user_id, d.reason) for d in found.page.items] == [
            ("e1", "alice", Reason.BELOW_THRESHOLD)
        ]

    async def test_a_user_with_no_decision_on_the_event_gets_an_empty_page(self):
        """Asking for carmen on an event that addressed alice answers nothing, not alice's decision."""
        ledger = await ledger_with(decision("e1", "alice"))
        query = EventDeliveriesQuery("e1", user_id="carmen")
        found = await deliveries_for_event(ledger, InMemoryInstallationMirror(), query)
        assert (found.page.items, found.broadcasts) == ([], [])

    async def test_the_events_broadcast_reads_for_the_user_as_reached_or_not_interested(self):
        """A broadcast event has one record; for each user it is explained against that user's devices."""
        ledger = await ledger_with(decision("news", None))
        mirror = InMemoryInstallationMirror()
        await mirror.upsert(device("alice", "topic:hr"))
        await mirror.upsert(device("bob", "topic:finance"))
        alice = await deliveries_for_event(ledger, mirror, EventDeliveriesQuery("news", user_id="alice"))
        bob = await deliveries_for_event(ledger, mirror, EventDeliveriesQuery("news", user_id="bob"))
        assert (alice.page.items, bob.page.items) == ([], [])
        [for_alice] = alice.broadcasts
        [for_bob] = bob.broadcasts
        assert (for_alice.user_id, for_alice.outcome) == ("alice", Outcome.SENT)
        assert (for_bob.user_id, for_bob.outcome, for_bob.reason) == ("bob", Outcome.SUPPRESSED, Reason.NOT_INTERESTED)

    async def test_paging_filters_each_page_and_keeps_the_events_cursor(self):
        """The user's decision is found on whichever page of the event it falls; every page hands on the cursor."""
        ledger = await ledger_with(
            *(decision("e1", f"user{i}", decided_at=NOW + timedelta(seconds=i)) for i in range(5))
        )
        mirror = InMemoryInstallationMirror()
        seen: list[str | None] = []
        cursor: str | None = None
        for _ in range(5):
            query = EventDeliveriesQuery("e1", limit=2, cursor=cursor, user_id="user2")
            found = await deliveries_for_event(ledger, mirror, query)
            seen += [d.user_id for d in found.page.items]
            cursor = found.page.cursor
            if cursor is None:
                break
        assert seen == ["user2"]
        assert cursor is None


class TestFeed:
    async def test_the_newest_decisions_of_every_kind_in_the_window_newest_first(self):
        """The feed holds user decisions and broadcasts of the window, newest first, and nothing older."""
        ledger = await ledger_with(
            decision("old", "alice", occurred_at=NOW - timedelta(hours=2)),
            decision("user", "bob", occurred_at=NOW - timedelta(minutes=5)),
            decision("news", None, occurred_at=NOW - timedelta(minutes=1)),
        )
        feed = await decision_feed(ledger, DecisionFeedQuery(NOW - timedelta(hours=1), NOW, 50))
        assert [d.event_id for d in feed] == ["news", "user"]

    async def test_the_limit_keeps_the_newest(self):
        """``limit`` cuts the oldest off, never the newest."""
        ledger = await ledger_with(
            *(decision(f"e{i}", "alice", occurred_at=NOW - timedelta(minutes=i)) for i in range(4))
        )
        feed = await decision_feed(ledger, DecisionFeedQuery(NOW - timedelta(hours=1), NOW, 2))
        assert [d.event_id for d in feed] == ["e0", "e1"]
