"""TableCampaignStore and TableSecureContentStore against Azurite: round trips, etag-conditional writes (the claims
a crash resumes from), the due query, large documents, and inbox items readable by their owner only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.tables import TableCampaignStore, TableSecureContentStore
from shared.domain.audience import AudienceCounts, parse_audience_expression, parse_user_list
from shared.domain.campaign_plan import plan_waves
from shared.domain.campaigns import (
    Campaign,
    CampaignContent,
    CampaignState,
    LocalTime,
    Recipient,
    SendState,
    WavePolicy,
)
from shared.domain.errors import ConflictError
from shared.domain.records import Platform
from shared.domain.secure_content import SecureItem
from tests.conftest import random_id
from tests.support.azurite import table_service

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 1, 9, 30, 15, 123000, tzinfo=UTC)


@pytest.fixture
async def stores(azurite_tables: str) -> AsyncIterator[tuple[TableCampaignStore, TableSecureContentStore]]:
    prefix = random_id("t")
    async with table_service(azurite_tables, prefix) as service:
        secure = TableSecureContentStore(service, prefix)
        yield TableCampaignStore(service, prefix), secure
        await secure.close()


@pytest.fixture
def store(stores) -> TableCampaignStore:
    return stores[0]


def campaign(**changes) -> Campaign:
    base = Campaign(
        id=random_id("c"),
        created_by="ops",
        created_at=T0,
        fingerprint="f" * 64,
        audience=parse_audience_expression("lang:es && platform:fcmv1"),
        content=CampaignContent(
            {"en": "Outage", "es": "Interrupción"},
            {"en": "Payments down", "es": "Pagos caídos"},
            "en",
            deep_link="enterprisepush://status",
            template="silent",
            sensitive=True,
        ),
        send_at=T0 + timedelta(days=9),
        local_time=LocalTime(datetime(2026, 4, 10, 9, 0), "Europe/Madrid"),
        wave_policy=WavePolicy((10, 90), timedelta(minutes=30)),
        plan_at=T0 + timedelta(days=8),
        next_check=T0 + timedelta(days=8),
    )
    return replace(base, **changes)


class TestCampaigns:
    async def test_a_campaign_round_trips_with_every_field(self, store):
        planned = campaign(
            plan_version=1,
            state=CampaignState.SENDING,
            audience_counts=AudienceCounts(3, 2, {"fcmv1": 3}, {"es": 3}),
            cancelled_at=T0,
            cancelled_by="ops2",
        )
        plan = plan_waves(planned.id, 1, [Recipient("u", "i", Platform.FCMV1, "es")], now=T0, send_at=None, policy=None)
        planned = replace(planned, waves=plan.waves)
        created = await store.create(planned)
        assert created.etag
        assert await store.get(planned.id) == replace(planned, etag=created.etag)

    async def test_creating_the_same_id_twice_is_a_conflict(self, store):
        first = campaign()
        await store.create(first)
        with pytest.raises(ConflictError):
            await store.create(replace(first, created_by="someone else"))
        assert (await store.get(first.id)).created_by == "ops"

    async def test_a_list_of_a_thousand_users_fits(self, store):
        many = campaign(audience=parse_user_list([f"user-{n:04d}-" + "x" * 90 for n in range(1000)]))
        await store.create(many)
        assert (await store.get(many.id)).audience == many.audience

    async def test_a_replace_with_a_stale_etag_is_a_conflict_and_changes_nothing(self, store):
        created = await store.create(campaign())
        moved = await store.replace(replace(created, state=CampaignState.SENDING))
        with pytest.raises(ConflictError):
            await store.replace(replace(created, state=CampaignState.CANCELLED))
        assert (await store.get(created.id)).state is CampaignState.SENDING
        assert (await store.replace(replace(moved, state=CampaignState.CANCELLED))).state is CampaignState.CANCELLED

    async def test_due_finds_campaigns_whose_next_check_has_come_only(self, store):
        due = await store.create(campaign(next_check=T0 - timedelta(seconds=1)))
        await store.create(campaign(next_check=T0 + timedelta(seconds=1)))
        await store.create(campaign(next_check=None))
        assert [found.id for found in await store.due(T0)] == [due.id]

    async def test_the_newest_come_first(self, store):
        ids = [(await store.create(campaign(created_at=T0 + timedelta(minutes=n)))).id for n in range(3)]
        assert [found.id for found in await store.list_recent(2)] == [ids[2], ids[1]]


class TestSends:
    async def plan(self, store, installations: int):
        created = await store.create(campaign())
        recipients = [Recipient(f"u{n}", f"u{n}-phone", Platform.FCMV1, "es") for n in range(installations)]
        plan = plan_waves(created.id, 1, recipients, now=T0, send_at=None, policy=WavePolicy((50, 50), timedelta(0)))
        await store.add_sends(plan.sends)
        return created, plan

    async def test_sends_round_trip_in_key_order(self, store):
        created, plan = await self.plan(store, 230)  # more than one 100-row transaction
        stored = await store.sends(created.id, 1)
        assert [replace(send, etag=None) for send in stored] == list(plan.sends)
        assert all(send.etag for send in stored)

    async def test_writing_the_same_plan_again_changes_nothing(self, store):
        created, plan = await self.plan(store, 12)
        await store.add_sends(plan.sends)
        assert [replace(s, etag=None) for s in await store.sends(created.id, 1)] == list(plan.sends)

    async def test_another_planning_is_kept_apart(self, store):
        created, _ = await self.plan(store, 6)
        assert await store.sends(created.id, 2) == []

    async def test_of_two_workers_claiming_one_send_exactly_one_wins(self, store):
        created, _ = await self.plan(store, 5)
        send = (await store.sends(created.id, 1))[0]
        claim = replace(send, state=SendState.CLAIMED, attempt=1, claimed_at=T0)
        results = await asyncio.gather(store.replace_send(claim), store.replace_send(claim), return_exceptions=True)
        assert sorted(type(result).__name__ for result in results) == ["CampaignSend", "ConflictError"]

    async def test_a_finished_send_keeps_its_outcome(self, store):
        created, _ = await self.plan(store, 2)
        send = (await store.sends(created.id, 1))[0]
        claimed = await store.replace_send(replace(send, state=SendState.CLAIMED, attempt=1, claimed_at=T0))
        finished = replace(
            claimed,
            state=SendState.SCHEDULED,
            notification_id="sched-1",
            handed_off_at=T0,
            telemetry_state="Completed",
            outcomes={"fcmv1": {"Success": 1, "ExpiredChannel": 1}},
            telemetry_final=True,
            removed=("u1-phone",),
            detail="note",
        )
        saved = await store.replace_send(finished)
        [again] = [s for s in await store.sends(created.id, 1) if s.key == send.key]
        assert again == saved


class TestInbox:
    async def test_an_item_reads_back_for_its_owner_only(self, stores):
        _, inbox = stores
        item = SecureItem(
            "alice@contoso.com", "evt/1", "event", "accounts.debit.posted",
            {"en": "Debit", "de": "Abbuchung", "es": "Cargo"}, {"en": "€5", "de": "5 €", "es": "5 €"},
            "enterprisepush://accounts/A", T0,
        )  # fmt: skip
        await inbox.put(item)
        await inbox.put(item)  # a redelivered event writes the same item again
        assert await inbox.get("alice@contoso.com", "evt/1") == item
        assert await inbox.get("bob", "evt/1") is None
        assert await inbox.get("alice@contoso.com", "evt/2") is None
