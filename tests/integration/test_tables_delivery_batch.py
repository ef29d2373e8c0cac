"""TableDeliveryLog batch operations on Azurite: a transaction per partition, the answers of one by one; faults are
injected by a loopback proxy in front of Azurite, which the log's SDK reads and its row writer both go through."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables.aio import TableServiceClient

from shared.adapters.tables import TableDeliveryLog
from shared.adapters.tables.delivery_rows import PARTITIONS
from shared.domain.errors import ConflictError, UpstreamUnavailableError
from shared.domain.records import Claim, ClaimStatus, DeliveryRecord, DeliveryState
from tests.conftest import random_id
from tests.support.tables_proxy import FaultyTablesProxy, SeenRequest, faulty_tables

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
STALE = timedelta(minutes=5)
SUB = "hr/push"


def ids(count: int) -> list[str]:
    return [random_id("ev") for _ in range(count)]


def sent(claim: Claim) -> DeliveryRecord:
    return DeliveryRecord(
        event_id=claim.event_id,
        subscription=claim.subscription,
        state=DeliveryState.SENT,
        attempt=claim.attempt,
        claimed_at=T0,
        notification_id=f"n-{claim.event_id}",
        finished_at=T0 + timedelta(seconds=1),
    )


@asynccontextmanager
async def delivery_log(service: TableServiceClient, prefix: str) -> AsyncIterator[TableDeliveryLog]:
    log = TableDeliveryLog(service, prefix)
    try:
        yield log
    finally:
        await log.close()


def transactions(proxy: FaultyTablesProxy) -> list[SeenRequest]:
    return [request for request in proxy.seen if request.is_transaction]


def partition_of(request: SeenRequest) -> str | None:
    found = _PARTITION.search(request.body)
    return found.group(1).decode() if found else None


_PARTITION = re.compile(rb'"PartitionKey":"([^"]+)"')


class TestClaimMany:
    async def test_new_events_are_claimed_with_one_transaction_per_partition(self, azurite_tables: str, prefix: str):
        events = ids(60)
        async with (
            faulty_tables(azurite_tables, lambda _: False) as (service, proxy),
            delivery_log(service, prefix) as log,
        ):
            claims = await log.claim_many(events, SUB, now=T0, stale_after=STALE)
        assert set(claims) == set(events)
        assert {claim.status for claim in claims.values()} == {ClaimStatus.CLAIMED}
        assert all(claim.etag for claim in claims.values())
        assert 0 < len(transactions(proxy)) <= PARTITIONS

    async def test_more_than_a_transaction_holds_is_split(self, log: TableDeliveryLog):
        events = ids(450)  # over 100 per partition with four partitions
        claims = await log.claim_many(events, SUB, now=T0, stale_after=STALE)
        assert len(claims) == 450
        assert {claim.status for claim in claims.values()} == {ClaimStatus.CLAIMED}

    async def test_a_redelivered_batch_gets_what_claiming_one_by_one_would_give(self, log: TableDeliveryLog):
        finished, fresh, stale, new = ids(1), ids(1), ids(1), ids(3)
        done_claim = await log.claim(finished[0], SUB, now=T0, stale_after=STALE)
        await log.finish(done_claim, sent(done_claim))
        await log.claim(fresh[0], SUB, now=T0 + STALE, stale_after=STALE)
        await log.claim(stale[0], SUB, now=T0, stale_after=STALE)

        claims = await log.claim_many(
            finished + fresh + stale + new, SUB, now=T0 + STALE + timedelta(seconds=1), stale_after=STALE
        )
        assert claims[finished[0]].status is ClaimStatus.DONE
        assert claims[fresh[0]].status is ClaimStatus.IN_PROGRESS
        assert claims[stale[0]].status is ClaimStatus.RESUMED
        assert claims[stale[0]].attempt == 2
        assert [claims[event].status for event in new] == [ClaimStatus.CLAIMED] * 3

    async def test_repeated_event_ids_are_refused(self, log: TableDeliveryLog):
        [event] = ids(1)
        with pytest.raises(ValueError, match="distinct"):
            await log.claim_many([event, event], SUB, now=T0, stale_after=STALE)

    async def test_when_storage_fails_for_one_partition_the_claims_made_elsewhere_are_released(
        self, azurite_tables: str, prefix: str, log: TableDeliveryLog
    ):
        partitions: list[str | None] = []

        def fail_the_second_partition(request: SeenRequest) -> bool:
            """Every transaction of the second partition to arrive fails, retries included."""
            if not request.is_transaction:
                return False
            if (partition := partition_of(request)) not in partitions:
                partitions.append(partition)
            return partitions.index(partition) == 1

        events = ids(40)
        failing = faulty_tables(azurite_tables, fail_the_second_partition)
        async with failing as (service, proxy), delivery_log(service, prefix) as failing_log:
            with pytest.raises(UpstreamUnavailableError):
                await failing_log.claim_many(events, SUB, now=T0, stale_after=STALE)
        assert proxy.failed
        states = {(await log.get(event, SUB) or _absent(event)).state for event in events}
        assert DeliveryState.CLAIMED not in states  # released (or never written), so a redelivery claims at once
        retry = await log.claim_many(events, SUB, now=T0, stale_after=STALE)
        assert {claim.status for claim in retry.values()} <= {ClaimStatus.CLAIMED, ClaimStatus.RESUMED}


def _absent(event_id: str) -> DeliveryRecord:
    return DeliveryRecord(event_id, SUB, DeliveryState.RELEASED, attempt=0, claimed_at=T0)


class TestFinishMany:
    async def test_outcomes_are_written_with_one_transaction_per_partition(
        self, azurite_tables: str, prefix: str, log: TableDeliveryLog
    ):
        claims = await log.claim_many(ids(30), SUB, now=T0, stale_after=STALE)
        async with faulty_tables(azurite_tables, lambda _: False) as (service, proxy):
            async with delivery_log(service, prefix) as log:
                report = await log.finish_many([(claim, sent(claim)) for claim in claims.values()])
            assert (report.conflicts, report.unwritten) == ([], [])
            assert 0 < len(transactions(proxy)) <= PARTITIONS
            for event_id in claims:
                record = await log.get(event_id, SUB)
                assert record is not None
                assert (record.state, record.notification_id) == (DeliveryState.SENT, f"n-{event_id}")

    async def test_a_claim_taken_over_meanwhile_is_reported_and_the_rest_written(self, log: TableDeliveryLog):
        claims = await log.claim_many(ids(12), SUB, now=T0, stale_after=STALE)
        victim = next(iter(claims.values()))
        taken = await log.claim(victim.event_id, SUB, now=T0 + STALE + timedelta(seconds=1), stale_after=STALE)
        assert taken.status is ClaimStatus.RESUMED

        report = await log.finish_many([(claim, sent(claim)) for claim in claims.values()])
        assert report.conflicts == [victim]
        assert report.unwritten == []
        for event_id in claims:
            record = await log.get(event_id, SUB)
            assert record is not None
            expected = DeliveryState.CLAIMED if event_id == victim.event_id else DeliveryState.SENT
            assert record.state is expected

    async def test_unreachable_storage_leaves_every_outcome_unwritten_to_try_again(
        self, azurite_tables: str, prefix: str, log: TableDeliveryLog
    ):
        claims = await log.claim_many(ids(10), SUB, now=T0, stale_after=STALE)
        outcomes = [(claim, sent(claim)) for claim in claims.values()]
        async with faulty_tables(azurite_tables, lambda _: True) as (down, _), delivery_log(down, prefix) as failing:
            report = await failing.finish_many(outcomes)
        assert sorted(claim.event_id for claim, _ in report.unwritten) == sorted(claims)
        again = await log.finish_many(report.unwritten)
        assert (again.conflicts, again.unwritten) == ([], [])

    async def test_a_claim_without_etag_cannot_be_finished(self, log: TableDeliveryLog):
        claim = Claim(ClaimStatus.DONE, "e", SUB, attempt=1)
        with pytest.raises(ConflictError):
            await log.finish_many([(claim, sent(claim))])

    async def test_the_same_event_on_two_subscriptions_is_two_rows(self, log: TableDeliveryLog):
        [event] = ids(1)
        first = (await log.claim_many([event], SUB, now=T0, stale_after=STALE))[event]
        second = (await log.claim_many([event], "orders/push", now=T0, stale_after=STALE))[event]
        report = await log.finish_many([(first, sent(first)), (second, replace(sent(second), notification_id="x"))])
        assert (report.conflicts, report.unwritten) == ([], [])
        assert (await log.get(event, SUB)).notification_id == f"n-{event}"  # type: ignore[union-attr]
        assert (await log.get(event, "orders/push")).notification_id == "x"  # type: ignore[union-attr]
