"""TableDeliveryLog against Azurite: claims, take-over of stale claims, and races between deliveries."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.tables import TableDeliveryLog
from shared.domain.errors import ConflictError
from shared.domain.events import event_key
from shared.domain.records import Claim, ClaimStatus, DeliveryRecord, DeliveryState
from tests.conftest import random_id

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
STALE = timedelta(minutes=5)
SUB = "hr/push"


def sent(claim: Claim, **changes: object) -> DeliveryRecord:
    record = DeliveryRecord(
        event_id=claim.event_id,
        subscription=claim.subscription,
        state=DeliveryState.SENT,
        attempt=claim.attempt,
        claimed_at=T0,
        event_type="hr.employee.joined",
        audience="topic:hr",
        notification_id="n-1",
        tracking_id="t-1",
        correlation_id="c-1",
        outcome="Enqueued",
        finished_at=T0 + timedelta(seconds=1),
        send_ms=12.0,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


class TestClaim:
    async def test_first_claim_is_claimed_with_an_etag(self, log: TableDeliveryLog) -> None:
        event = random_id("ev-")
        claim = await log.claim(event, SUB, now=T0, stale_after=STALE)

        assert (claim.status, claim.attempt, claim.event_id, claim.subscription) == (
            ClaimStatus.CLAIMED,
            1,
            event,
            SUB,
        )
        assert claim.etag
        stored = await log.get(event, SUB)
        assert stored is not None
        assert (stored.state, stored.attempt, stored.claimed_at) == (DeliveryState.CLAIMED, 1, T0)

    async def test_second_claim_is_in_progress_when_the_first_is_fresh(self, log: TableDeliveryLog) -> None:
        event = random_id("ev-")
        await log.claim(event, SUB, now=T0, stale_after=STALE)

        again = await log.claim(event, SUB, now=T0 + STALE - timedelta(seconds=1), stale_after=STALE)

        assert again.status is ClaimStatus.IN_PROGRESS
        assert again.etag is None

    async def test_claims_of_other_subscriptions_are_independent(self, log: TableDeliveryLog) -> None:
        event = random_id("ev-")
        first = await log.claim(event, "hr/push", now=T0, stale_after=STALE)
        other = await log.claim(event, "hr/audit#1", now=T0, stale_after=STALE)

        assert (first.status, other.status) == (ClaimStatus.CLAIMED, ClaimStatus.CLAIMED)

    @pytest.mark.parametrize("state", [DeliveryState.SENT, DeliveryState.SKIPPED, DeliveryState.FAILED])
    async def test_claim_is_done_when_the_delivery_finished(self, log: TableDeliveryLog, state: DeliveryState) -> None:
        event = random_id("ev-")
        claim = await log.claim(event, SUB, now=T0, stale_after=STALE)
        await log.finish(claim, sent(claim, state=state))

        later = await log.claim(event, SUB, now=T0 + timedelta(days=1), stale_after=STALE)

        assert (later.status, later.attempt) == (ClaimStatus.DONE, 1)

    async def test_get_returns_none_when_never_claimed(self, log: TableDeliveryLog) -> None:
        assert await log.get("unknown", SUB) is None


class TestSourceQualifiedKeys:
    async def test_the_same_id_from_two_sources_is_claimed_and_finished_independently(
        self, log: TableDeliveryLog
    ) -> None:
        """The use case keys on source#id: /lob/hr's "42" done does not make /lob/finance's "42" a duplicate."""
        event_id = random_id("42-")
        hr, finance = event_key("/lob/hr", event_id), event_key("/lob/finance", event_id)
        first = await log.claim(hr, "push", now=T0, stale_after=STALE)
        await log.finish(first, sent(first))

        other = await log.claim(finance, "push", now=T0, stale_after=STALE)
        again = await log.claim(hr, "push", now=T0, stale_after=STALE)

        assert (first.status, other.status, again.status) == (
            ClaimStatus.CLAIMED,
            ClaimStatus.CLAIMED,
            ClaimStatus.DONE,
        )
        assert (await log.get(hr, "push")).state is DeliveryState.SENT
        assert (await log.get(finance, "push")).state is DeliveryState.CLAIMED

    async def test_a_batch_claims_both_sources_in_its_transactions(self, log: TableDeliveryLog) -> None:
        event_id = random_id("42-")
        keys = [event_key(source, event_id) for source in ("/lob/hr", "/lob/finance", "/lob/accounts")]
        claims = await log.claim_many(keys, "push", now=T0, stale_after=STALE)
        assert {key: claim.status for key, claim in claims.items()} == dict.fromkeys(keys, ClaimStatus.CLAIMED)


class TestFinish:
    async def test_finish_stores_the_whole_record(self, log: TableDeliveryLog) -> None:
        event = random_id("ev-")
        claim = await log.claim(event, SUB, now=T0, stale_after=STALE)
        record = sent(claim)

        await log.finish(claim, record)

        stored = await log.get(event, SUB)
        assert stored == record
        assert isinstance(stored.send_ms, float)

    async def test_finish_raises_conflict_when_the_claim_was_taken_over(self, log: TableDeliveryLog) -> None:
        event = random_id("ev-")
        original = await log.claim(event, SUB, now=T0, stale_after=STALE)
        resumed = await log.claim(event, SUB, now=T0 + 2 * STALE, stale_after=STALE)

        with pytest.raises(ConflictError):
            await log.finish(original, sent(original))
        await log.finish(resumed, sent(resumed))
        stored = await log.get(event, SUB)
        assert stored is not None
        assert (stored.state, stored.attempt) == (DeliveryState.SENT, 2)

    async def test_finish_raises_conflict_when_the_claim_was_not_granted(self, log: TableDeliveryLog) -> None:
        event = random_id("ev-")
        await log.claim(event, SUB, now=T0, stale_after=STALE)
        busy = await log.claim(event, SUB, now=T0, stale_after=STALE)

        with pytest.raises(ConflictError):
            await log.finish(busy, sent(busy))


class TestConcurrency:
    async def test_exactly_one_of_many_concurrent_claims_wins(self, log: TableDeliveryLog) -> None:
        event = random_id("ev-")

        claims = await asyncio.gather(*(log.claim(event, SUB, now=T0, stale_after=STALE) for _ in range(25)))

        assert Counter(c.status for c in claims) == {ClaimStatus.CLAIMED: 1, ClaimStatus.IN_PROGRESS: 24}

    async def test_a_stale_claim_is_resumed_exactly_once_under_concurrency(self, log: TableDeliveryLog) -> None:
        event = random_id("ev-")
        await log.claim(event, SUB, now=T0, stale_after=STALE)
        later = T0 + STALE + timedelta(seconds=1)

        claims = await asyncio.gather(*(log.claim(event, SUB, now=later, stale_after=STALE) for _ in range(25)))

        statuses = Counter(c.status for c in claims)
        assert statuses == {ClaimStatus.RESUMED: 1, ClaimStatus.IN_PROGRESS: 24}
        (resumed,) = (c for c in claims if c.status is ClaimStatus.RESUMED)
        assert resumed.attempt == 2
        stored = await log.get(event, SUB)
        assert stored is not None
        assert (stored.attempt, stored.claimed_at) == (2, later)


class TestReleaseAndForget:
    async def test_released_claim_is_resumed_at_once_by_the_next_delivery(self, log: TableDeliveryLog) -> None:
        """A transient NH failure releases the claim, so the redelivered message need not wait for staleness."""
        event = random_id("ev-")
        first = await log.claim(event, SUB, now=T0, stale_after=STALE)
        await log.release(first)

        second = await log.claim(event, SUB, now=T0 + timedelta(seconds=1), stale_after=STALE)

        assert (second.status, second.attempt) == (ClaimStatus.RESUMED, 2)

    async def test_release_after_a_take_over_leaves_the_new_claim_alone(self, log: TableDeliveryLog) -> None:
        event = random_id("ev-")
        old = await log.claim(event, SUB, now=T0, stale_after=STALE)
        new = await log.claim(event, SUB, now=T0 + STALE * 2, stale_after=STALE)
        await log.release(old)

        third = await log.claim(event, SUB, now=T0 + STALE * 2, stale_after=STALE)

        assert new.status is ClaimStatus.RESUMED
        assert third.status is ClaimStatus.IN_PROGRESS

    async def test_forget_lets_a_finished_event_be_claimed_again(self, log: TableDeliveryLog) -> None:
        event = random_id("ev-")
        claim = await log.claim(event, SUB, now=T0, stale_after=STALE)
        await log.finish(claim, sent(claim))
        await log.forget(event, SUB)
        await log.forget(event, SUB)

        again = await log.claim(event, SUB, now=T0, stale_after=STALE)

        assert again.status is ClaimStatus.CLAIMED
