"""TableInboxStore against Azurite: insert-if-absent, conditional replace, newest-first paging, retention."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.tables import TableInboxStore
from shared.adapters.tables.inbox import PURGE_EVERY
from shared.domain.channels import InAppMessage
from shared.domain.errors import ConflictError, ValidationError
from shared.domain.inbox import INBOX_CURSOR_PATTERN, INBOX_RETENTION, Decision, new_entry, with_push_decided, with_seen
from tests.conftest import random_id
from tests.support.azurite import table_service

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(azurite_tables: str) -> AsyncIterator[TableInboxStore]:
    prefix = random_id("t")
    async with table_service(azurite_tables, prefix) as service:
        inbox = TableInboxStore(service, prefix)
        yield inbox
        await inbox.close()


def message(notification_id: str, at: datetime = NOW, **changes: object) -> InAppMessage:
    base = InAppMessage(
        id=notification_id,
        type="finance.budget_approval.requested",
        title="Freigabe erforderlich",
        body="Jorge Ruiz beantragt 1.234,50 € für Team-Offsite.",
        language="de",
        created_at=at,
        deep_link="enterprisepush://finance/approvals/BR-1",
        category="finance.approvals",
        silent=False,
        data={"requestId": "BR-1", "amount": "1234.50"},
    )
    return replace(base, **changes)


class TestInbox:
    async def test_add_is_insert_if_absent_and_get_reads_every_field_back(self, store):
        entry = new_entry("anna", message("evt/1 ü"), Decision.PENDING)
        stored = await store.add(entry)
        assert stored is not None
        assert stored.version
        assert await store.add(entry) is None
        found = await store.get("anna", "evt/1 ü")
        assert found == entry
        assert found.version == stored.version
        assert await store.get("bob", "evt/1 ü") is None

    async def test_replace_is_conditional_on_the_version_it_read(self, store):
        stored = await store.add(new_entry("anna", message("evt-2"), Decision.PENDING))
        seen = await store.replace(with_seen(stored, NOW + timedelta(seconds=2)))
        with pytest.raises(ConflictError):
            await store.replace(with_push_decided(stored))  # the stale version loses
        found = await store.get("anna", "evt-2")
        assert (found.decision, found.seen_at, found.version) == (
            Decision.SEEN,
            NOW + timedelta(seconds=2),
            seen.version,
        )

    async def test_only_one_of_two_racing_decisions_wins(self, store):
        stored = await store.add(new_entry("anna", message("evt-race"), Decision.PENDING))
        outcomes = await asyncio.gather(
            store.replace(with_seen(stored, NOW)), store.replace(with_push_decided(stored)), return_exceptions=True
        )
        assert sum(isinstance(outcome, ConflictError) for outcome in outcomes) == 1

    async def test_list_pages_newest_first_and_shows_changes(self, store):
        for index in range(5):
            await store.add(new_entry("anna", message(f"evt-{index}", NOW + timedelta(minutes=index)), Decision.NONE))
        await store.add(new_entry("bob", message("bobs", NOW + timedelta(hours=1)), Decision.NONE))
        stored = await store.get("anna", "evt-3")
        await store.replace(with_seen(stored, NOW + timedelta(hours=2)))
        first = await store.list("anna", limit=2, cursor=None, now=NOW + timedelta(hours=3))
        assert [e.notification_id for e in first.items] == ["evt-4", "evt-3"]
        assert first.items[1].seen_at == NOW + timedelta(hours=2)
        second = await store.list("anna", limit=2, cursor=first.next_cursor, now=NOW + timedelta(hours=3))
        third = await store.list("anna", limit=2, cursor=second.next_cursor, now=NOW + timedelta(hours=3))
        assert [e.notification_id for e in second.items] == ["evt-2", "evt-1"]
        assert ([e.notification_id for e in third.items], third.next_cursor) == (["evt-0"], None)

    async def test_a_cursor_that_was_not_handed_out_is_refused(self, store):
        with pytest.raises(ValidationError):
            await store.list("anna", limit=2, cursor="bm90LWEtY3Vyc29y", now=NOW)

    async def test_any_cursor_of_the_documented_shape_is_a_position_in_the_list(self, store):
        """The contract's pattern admits exactly the positions: one made up by a client pages from there."""
        for index in range(3):
            await store.add(new_entry("anna", message(f"evt-{index}", NOW + timedelta(minutes=index)), Decision.NONE))
        first = await store.list("anna", limit=1, cursor=None, now=NOW + timedelta(hours=1))
        assert first.next_cursor is not None
        assert re.fullmatch(INBOX_CURSOR_PATTERN, first.next_cursor)
        made_up = first.next_cursor.split(":", 1)[0] + ":~"  # evt-2's time, after every id at that time
        after = await store.list("anna", limit=5, cursor=made_up, now=NOW + timedelta(hours=1))
        assert [e.notification_id for e in after.items] == ["evt-1", "evt-0"]
        oldest = await store.list("anna", limit=5, cursor="9" * 15 + ":x", now=NOW + timedelta(hours=1))
        assert (oldest.items, oldest.next_cursor) == ([], None)

    async def test_expired_entries_are_left_out_and_purged_by_the_next_add(self, store):
        old = NOW - INBOX_RETENTION - timedelta(days=1)
        await store.add(new_entry("anna", message("ancient", old), Decision.NONE))
        assert [e.notification_id for e in (await store.list("anna", limit=10, cursor=None, now=NOW)).items] == []
        await store.add(new_entry("anna", message("fresh", NOW), Decision.NONE))
        assert await store.get("anna", "ancient") is None
        assert [e.notification_id for e in (await store.list("anna", limit=10, cursor=None, now=NOW)).items] == [
            "fresh"
        ]

    async def test_a_user_is_purged_at_most_once_per_purge_interval_of_entry_time(self, store):
        old = NOW - INBOX_RETENTION - timedelta(days=1)
        await store.add(new_entry("anna", message("first", NOW), Decision.NONE))
        await store.add(new_entry("anna", message("ancient", old), Decision.NONE))
        await store.add(new_entry("anna", message("soon-after", NOW + PURGE_EVERY / 2), Decision.NONE))
        assert await store.get("anna", "ancient") is not None  # expired, left out of lists, not purged yet
        later = NOW + PURGE_EVERY / 2 + timedelta(minutes=1)
        assert [e.notification_id for e in (await store.list("anna", limit=10, cursor=None, now=later)).items] == [
            "soon-after",
            "first",
        ]
        await store.add(new_entry("anna", message("an-hour-on", NOW + PURGE_EVERY), Decision.NONE))
        assert await store.get("anna", "ancient") is None
        await store.add(new_entry("bert", message("bert-ancient", old), Decision.NONE))
        await store.add(new_entry("bert", message("bert-first", NOW), Decision.NONE))
        assert await store.get("bert", "bert-ancient") is None  # another user's first add purges at once
