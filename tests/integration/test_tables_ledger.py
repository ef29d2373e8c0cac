"""TableDecisionLedger against Azurite: record and read back by event, by user and window (paged), broadcasts, the
console's feed, replacement on redelivery, odd ids, a forged cursor, and the retention sweep."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.tables import TableDecisionLedger
from shared.domain.decisions import Channel, Decision, Outcome, Reason
from shared.domain.errors import ValidationError
from shared.ports.ledger import LEDGER_CURSOR_PATTERN
from tests.conftest import random_id
from tests.support.azurite import table_service

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def ledger(azurite_tables: str) -> AsyncIterator[TableDecisionLedger]:
    prefix = random_id("t")
    async with table_service(azurite_tables, prefix) as service:
        ledger = TableDecisionLedger(service, prefix)
        yield ledger
        await ledger.close()


def decision(**changes: object) -> Decision:
    base = Decision(
        event_id=random_id("evt-"),
        event_type="accounts.debit.posted",
        outcome=Outcome.SUPPRESSED,
        reason=Reason.BELOW_THRESHOLD,
        occurred_at=NOW - timedelta(minutes=5),
        decided_at=NOW,
        user_id="alice",
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        subscription="push",
    )
    return replace(base, **changes)


class TestTableDecisionLedger:
    async def test_a_decision_reads_back_whole_by_event_and_by_user(self, ledger):
        sent = decision(
            outcome=Outcome.SENT, reason=Reason.DELIVERED, notification_id="n-1", nh_outcome="enqueued",
            audience="(user:alice) && alert", latency_ms=812.5, detail="x" * 5000,
        )  # fmt: skip
        await ledger.record(sent)
        [by_event] = (await ledger.for_event(sent.event_id, limit=10)).items
        [by_user] = (await ledger.for_user("alice", since=NOW - timedelta(hours=1), limit=10)).items
        expected = replace(sent, detail="x" * 4000)  # details are clipped to 4,000 characters
        assert by_event == by_user == expected

    async def test_a_later_decision_on_the_same_event_and_recipient_replaces_the_earlier(self, ledger):
        failed = decision(outcome=Outcome.FAILED, reason="throttled", attempt=1)
        await ledger.record(failed)
        await ledger.record(replace(failed, outcome=Outcome.SENT, reason=Reason.DELIVERED, attempt=2))
        [by_event] = (await ledger.for_event(failed.event_id, limit=10)).items
        [by_user] = (await ledger.for_user("alice", since=NOW - timedelta(hours=1), limit=10)).items
        assert (by_event.outcome, by_event.attempt) == (Outcome.SENT, 2)
        assert by_user == by_event

    async def test_each_channel_and_recipient_of_an_event_has_its_own_record(self, ledger):
        first = decision()
        await ledger.record(first)
        await ledger.record(replace(first, channel=Channel.IN_APP, outcome=Outcome.SENT, reason=Reason.DELIVERED))
        await ledger.record(replace(first, user_id="bob"))
        found = (await ledger.for_event(first.event_id, limit=10)).items
        assert sorted((d.user_id or "", d.channel.value) for d in found) == [
            ("alice", "in_app"), ("alice", "push"), ("bob", "push"),
        ]  # fmt: skip

    async def test_an_events_records_page_with_a_cursor_and_other_events_in_its_bucket_stay_out(self, ledger):
        first = decision()
        others = [decision() for _ in range(40)]  # 16 buckets: several share the first event's
        for user in ("alice", "bob", "carol"):
            await ledger.record(replace(first, user_id=user))
        for other in others:
            await ledger.record(other)
        page = await ledger.for_event(first.event_id, limit=2)
        assert page.cursor is not None
        assert re.fullmatch(LEDGER_CURSOR_PATTERN, page.cursor)
        rest = await ledger.for_event(first.event_id, limit=2, cursor=page.cursor)
        assert rest.cursor is None
        assert sorted(d.user_id or "" for d in [*page.items, *rest.items]) == ["alice", "bob", "carol"]
        assert {d.event_id for d in [*page.items, *rest.items]} == {first.event_id}

    async def test_the_number_of_partitions_stays_bounded_however_many_events_are_recorded(self, ledger):
        """Azurite slows down with every partition a table holds: events share 16 buckets, not one each."""
        for _ in range(60):
            await ledger.record(decision(user_id=None, outcome=Outcome.SENT, reason=Reason.DELIVERED))
        table = await ledger._tables.get("decisions")
        partitions = {entity["PartitionKey"] async for entity in table.list_entities(select=["PartitionKey"])}
        assert len(partitions) <= 16 + 1  # the event buckets and the broadcast partition

    async def test_records_written_before_the_buckets_are_still_found_by_event(self, ledger, azurite_tables):
        """A ledger upgraded in place: rows of the earlier layout (a partition per event) until retention ends."""
        old = decision(user_id="alice")
        table = await ledger._tables.get("decisions")
        properties = {"EventId": old.event_id, "EventType": old.event_type, "Outcome": old.outcome.value,
                      "Reason": old.reason, "Channel": "push", "UserId": "alice", "Attempt": 1,
                      "OccurredAt": old.occurred_at, "DecidedAt": old.decided_at}  # fmt: skip
        for user in ("alice", "bob"):
            row = {"PartitionKey": f"e:{old.event_id}", "RowKey": f"push:u:{user}", **properties, "UserId": user}
            await table.create_entity(row)
        page = await ledger.for_event(old.event_id, limit=1)
        assert [(d.event_id, d.user_id) for d in page.items] == [(old.event_id, "alice")]
        assert page.cursor is not None
        rest = await ledger.for_event(old.event_id, limit=5, cursor=page.cursor)
        assert [(d.event_id, d.user_id) for d in rest.items] == [(old.event_id, "bob")]

    async def test_a_user_query_is_newest_first_within_the_window_and_pages_with_a_cursor(self, ledger):
        user = random_id("u")
        ages = [1, 2, 3, 4, 5, 90]  # minutes ago; 90 is outside a one-hour window
        for age in ages:
            await ledger.record(decision(user_id=user, occurred_at=NOW - timedelta(minutes=age)))
        first = await ledger.for_user(user, since=NOW - timedelta(hours=1), limit=3)
        assert [NOW - d.occurred_at for d in first.items] == [timedelta(minutes=m) for m in (1, 2, 3)]
        assert first.cursor is not None
        second = await ledger.for_user(user, since=NOW - timedelta(hours=1), limit=3, cursor=first.cursor)
        assert [NOW - d.occurred_at for d in second.items] == [timedelta(minutes=m) for m in (4, 5)]
        assert second.cursor is None

    async def test_another_users_decisions_never_show_up(self, ledger):
        await ledger.record(decision(user_id="alice"))
        assert (await ledger.for_user("alic", since=NOW - timedelta(days=1), limit=10)).items == []
        assert (await ledger.for_user("alice2", since=NOW - timedelta(days=1), limit=10)).items == []

    async def test_ids_with_characters_tables_refuses_in_keys_still_work(self, ledger):
        odd = decision(event_id="lob/hr#1?x", user_id="a/b\\c#d?")
        await ledger.record(odd)
        assert (await ledger.for_event("lob/hr#1?x", limit=5)).items == [odd]
        assert (await ledger.for_user("a/b\\c#d?", since=NOW - timedelta(hours=1), limit=5)).items == [odd]

    async def test_broadcasts_are_listed_apart_from_any_user(self, ledger):
        news = decision(
            user_id=None, event_type="hr.employee.joined", outcome=Outcome.SENT, reason=Reason.DELIVERED,
            audience="(topic:hr) && alert", audience_size=42,
        )  # fmt: skip
        await ledger.record(news)
        found = (await ledger.broadcasts(since=NOW - timedelta(hours=1), limit=50)).items
        assert news in found
        assert (await ledger.for_user("alice", since=NOW - timedelta(hours=1), limit=50)).items == []

    async def test_the_feed_has_the_newest_decisions_of_the_window(self, ledger):
        recent = [decision(occurred_at=NOW - timedelta(minutes=m)) for m in (1, 20, 70)]
        for item in recent:
            await ledger.record(item)
        feed = await ledger.recent(since=NOW - timedelta(hours=1), until=NOW, limit=10)
        assert [d.event_id for d in feed] == [recent[0].event_id, recent[1].event_id]

    async def test_the_feed_has_the_windows_broadcasts_beside_user_decisions_newest_first(self, ledger):
        def news(minutes: int) -> Decision:
            return decision(
                user_id=None, event_type="hr.employee.joined", outcome=Outcome.SENT, reason=Reason.DELIVERED,
                occurred_at=NOW - timedelta(minutes=minutes),
            )  # fmt: skip

        too_old, newer_than_until, in_window = news(70), news(-5), news(2)
        user_decision = decision(occurred_at=NOW - timedelta(minutes=10))
        for item in (too_old, newer_than_until, in_window, user_decision):
            await ledger.record(item)
        feed = await ledger.recent(since=NOW - timedelta(hours=1), until=NOW, limit=10)
        assert feed == [in_window, user_decision]
        assert [d.event_id for d in await ledger.recent(since=NOW - timedelta(hours=1), until=NOW, limit=1)] == [
            in_window.event_id
        ]

    async def test_a_cursor_not_of_the_documented_shape_is_a_validation_error(self, ledger):
        with pytest.raises(ValidationError, match="cursor"):
            await ledger.for_user("alice", since=NOW, limit=5, cursor="not-a-cursor!")
        with pytest.raises(ValidationError, match="cursor"):
            await ledger.for_user("alice", since=NOW, limit=5, cursor="a" * 1025)

    async def test_any_cursor_of_the_documented_shape_is_a_position(self, ledger):
        """A made-up cursor pages on from where it sorts: the contract's pattern admits only answerable cursors."""
        user = random_id("u")
        for minutes in range(3):
            await ledger.record(
                decision(event_id=f"e{minutes}", user_id=user, occurred_at=NOW - timedelta(minutes=minutes))
            )
        first = await ledger.for_user(user, since=NOW - timedelta(hours=1), limit=1)
        assert first.cursor is not None
        assert re.fullmatch(LEDGER_CURSOR_PATTERN, first.cursor)
        made_up = first.cursor.split(":", 1)[0] + ":~"  # e0's time, after every key at that time
        rest = await ledger.for_user(user, since=NOW - timedelta(hours=1), limit=5, cursor=made_up)
        assert [d.event_id for d in rest.items] == ["e1", "e2"]
        assert rest.cursor is None

    async def test_the_sweep_deletes_every_row_of_expired_decisions_only(self, azurite_tables):
        prefix = random_id("t")
        async with table_service(azurite_tables, prefix) as service:
            short = TableDecisionLedger(service, prefix, retention=timedelta(days=1))
            old = decision(decided_at=NOW - timedelta(days=3), occurred_at=NOW - timedelta(days=3))
            fresh = decision()
            await short.record(old)
            await short.record(fresh)
            old_news = replace(old, event_id=random_id("evt-"), user_id=None)
            await short.record(old_news)
            # The event, user and feed rows of the old decision; the event and broadcast rows of the old broadcast.
            assert await short.sweep(expired_before=NOW) == 3 + 2
            assert (await short.for_event(old.event_id, limit=5)).items == []
            assert (await short.for_event(old_news.event_id, limit=5)).items == []
            assert (await short.for_event(fresh.event_id, limit=5)).items == [fresh]
            await short.close()
