"""GroupingDeliveryLog: concurrent claims and records share batch calls, and each caller gets its own answer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.delivery_log_grouping import GroupingDeliveryLog
from shared.domain.errors import ConflictError, UpstreamUnavailableError
from shared.domain.records import Claim, ClaimStatus, DeliveryRecord, DeliveryState
from tests.fakes import InMemoryDeliveryLog

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
STALE = timedelta(seconds=90)


class SlowLog(InMemoryDeliveryLog):
    """The in-memory log whose batch calls take a moment, as a Tables round trip does, and are counted."""

    def __init__(self) -> None:
        super().__init__()
        self.claim_many_sizes: list[int] = []
        self.finish_many_sizes: list[int] = []

    async def claim_many(self, event_ids, subscription, *, now, stale_after):  # type: ignore[no-untyped-def]
        self.claim_many_sizes.append(len(event_ids))
        await asyncio.sleep(0.01)
        return await super().claim_many(event_ids, subscription, now=now, stale_after=stale_after)

    async def finish_many(self, outcomes):  # type: ignore[no-untyped-def]
        self.finish_many_sizes.append(len(outcomes))
        await asyncio.sleep(0.01)
        return await super().finish_many(outcomes)


def sent(claim: Claim) -> DeliveryRecord:
    return DeliveryRecord(claim.event_id, claim.subscription, DeliveryState.SENT, claim.attempt, NOW, finished_at=NOW)


async def claim(log: GroupingDeliveryLog, event_id: str, subscription: str = "push") -> Claim:
    return await log.claim(event_id, subscription, now=NOW, stale_after=STALE)


class TestClaims:
    async def test_concurrent_claims_share_batch_calls(self):
        inner = SlowLog()
        log = GroupingDeliveryLog(inner)
        claims = await asyncio.gather(*(claim(log, f"e{i}") for i in range(40)))
        assert [c.status for c in claims] == [ClaimStatus.CLAIMED] * 40
        assert [c.event_id for c in claims] == [f"e{i}" for i in range(40)]
        assert len(inner.claim_many_sizes) == 1  # one shared call (at most one claim went out alone before it)
        assert inner.claim_many_sizes[0] >= 39

    async def test_a_lone_claim_goes_out_at_once_as_a_plain_claim(self):
        inner = SlowLog()
        assert (await claim(GroupingDeliveryLog(inner), "solo")).status is ClaimStatus.CLAIMED
        assert inner.claim_many_sizes == []  # a one-row transaction would cost more than the insert

    async def test_two_deliveries_of_one_event_in_a_group_get_claimed_and_in_progress(self):
        log = GroupingDeliveryLog(SlowLog())
        await claim(log, "warm-up")  # so that the next two queue together
        first, second = await asyncio.gather(claim(log, "twice"), claim(log, "twice"))
        assert sorted([first.status, second.status]) == sorted([ClaimStatus.CLAIMED, ClaimStatus.IN_PROGRESS])

    async def test_claims_of_different_subscriptions_are_claimed_apart(self):
        inner = SlowLog()
        log = GroupingDeliveryLog(inner)
        answers = await asyncio.gather(claim(log, "e", "push"), claim(log, "e", "fulfilment"))
        assert [a.subscription for a in answers] == ["push", "fulfilment"]
        assert {a.status for a in answers} == {ClaimStatus.CLAIMED}

    async def test_a_failed_batch_call_fails_each_of_its_callers(self):
        inner = SlowLog()
        log = GroupingDeliveryLog(inner)
        inner.fail_claim_many = [UpstreamUnavailableError("tables down")]
        results = await asyncio.gather(claim(log, "a"), claim(log, "b"), return_exceptions=True)
        assert isinstance(results[0], UpstreamUnavailableError)
        assert (await claim(log, "c")).status is ClaimStatus.CLAIMED  # the next call goes out again


class TestFinishes:
    async def test_concurrent_records_share_batch_calls(self):
        inner = SlowLog()
        log = GroupingDeliveryLog(inner)
        claims = await asyncio.gather(*(claim(log, f"e{i}") for i in range(30)))
        await asyncio.gather(*(log.finish(c, sent(c)) for c in claims))
        assert len(inner.finish_many_sizes) == 1
        assert inner.finish_many_sizes[0] >= 29
        assert {(await log.get(c.event_id, "push")).state for c in claims} == {DeliveryState.SENT}  # type: ignore[union-attr]

    async def test_a_claim_taken_over_gets_conflict_and_the_others_are_written(self):
        inner = SlowLog()
        log = GroupingDeliveryLog(inner)
        mine, other = await asyncio.gather(claim(log, "taken"), claim(log, "kept"))
        await inner.claim("taken", "push", now=NOW + STALE + timedelta(seconds=1), stale_after=STALE)
        results = await asyncio.gather(
            log.finish(mine, sent(mine)), log.finish(other, sent(other)), return_exceptions=True
        )
        assert isinstance(results[0], ConflictError)
        assert results[1] is None
        assert (await log.get("kept", "push")).state is DeliveryState.SENT  # type: ignore[union-attr]

    async def test_an_unwritten_record_is_a_transient_error_for_its_caller(self):
        inner = SlowLog()
        log = GroupingDeliveryLog(inner)
        mine = await claim(log, "e")
        inner.fail_finish = [UpstreamUnavailableError("tables down")]
        with pytest.raises(UpstreamUnavailableError):
            await log.finish(mine, sent(mine))
        await log.finish(mine, sent(mine))  # storage is back: the same claim records fine
        assert (await log.get("e", "push")).state is DeliveryState.SENT  # type: ignore[union-attr]

    async def test_a_claim_without_etag_is_refused_before_any_call(self):
        inner = SlowLog()
        done = Claim(ClaimStatus.DONE, "e", "push", 1)
        with pytest.raises(ConflictError):
            await GroupingDeliveryLog(inner).finish(done, sent(done))
        assert inner.finish_many_sizes == []


class TestCancellation:
    async def test_a_cancelled_caller_does_not_disturb_the_others(self):
        log = GroupingDeliveryLog(SlowLog())
        await claim(log, "warm-up")
        doomed = asyncio.ensure_future(claim(log, "gone"))
        kept = asyncio.ensure_future(claim(log, "kept"))
        await asyncio.sleep(0)
        doomed.cancel()
        assert (await kept).status is ClaimStatus.CLAIMED
        assert doomed.cancelled()
