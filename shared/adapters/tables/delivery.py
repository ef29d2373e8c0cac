"""TableDeliveryLog: claims and outcomes of deliveries, table ``deliveries``.

A claim is an insert-if-absent; a stale claim is taken over with an etag-conditional update, so of any number of
concurrent deliveries of one event exactly one goes ahead. Several claims or outcomes go in one entity-group
transaction per partition (``claim_many``, ``finish_many``); the keys and partitions are in delivery_rows. Every write
(claim, take-over, finish, release, and those transactions) goes through ``TableRowWriter``, the cheaper signed
request; the reads and deletes through the SDK.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableEntity
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.adapters.tables.common import TableSet, mapped_errors, utc
from shared.adapters.tables.delivery_rows import (
    TABLE,
    etag_of,
    first_claim,
    from_entity,
    partition_key,
    row_key,
    to_entity,
    transaction_groups,
)
from shared.adapters.tables.row_writer import RowChange, RowConflict, TableRowWriter
from shared.domain.errors import ConflictError, UpstreamError, UpstreamUnavailableError
from shared.domain.records import Claim, ClaimStatus, DeliveryRecord, DeliveryState, FinishReport

__all__ = ["TableDeliveryLog"]

log = logging.getLogger(__name__)

_FINISHED = frozenset({DeliveryState.SENT, DeliveryState.SKIPPED, DeliveryState.FAILED})
# A row can vanish between "insert failed: exists" and the read (someone deleted it); try the insert again a few times.
_CLAIM_ROUNDS = 3


class TableDeliveryLog:
    """DeliveryLog on azure.data.tables.aio and ``TableRowWriter``. Raises UpstreamError (UpstreamUnavailableError
    when transient). ``writer``: the process's writer for the same account (one is made when none is given);
    ``close`` ends its HTTP session."""

    def __init__(
        self, service: TableServiceClient, table_prefix: str = "", writer: TableRowWriter | None = None
    ) -> None:
        self._tables = TableSet(service, table_prefix)
        self._writer = writer or TableRowWriter.for_service(service)

    async def close(self) -> None:
        await self._writer.close()

    async def claim(self, event_id: str, subscription: str, *, now: datetime, stale_after: timedelta) -> Claim:
        """Claim a delivery: CLAIMED when new, DONE when finished, IN_PROGRESS when another claim is fresh (or wins
        the take-over race), RESUMED when this call took over a claim older than ``stale_after``."""
        table = await self._tables.get(TABLE)
        first = to_entity(event_id, subscription, first_claim(event_id, subscription, now))
        for _ in range(_CLAIM_ROUNDS):
            try:
                etag = await self._writer.insert(table.table_name, first, operation="claim delivery")
            except ConflictError:
                pass
            else:
                return Claim(ClaimStatus.CLAIMED, event_id, subscription, attempt=1, etag=etag)
            with mapped_errors("claim delivery"):
                try:
                    entity = await table.get_entity(partition_key(event_id, subscription), row_key(event_id))
                except ResourceNotFoundError:
                    continue
            return await self._settle_existing(table, entity, now=now, stale_after=stale_after)
        return Claim(ClaimStatus.IN_PROGRESS, event_id, subscription, attempt=0)

    async def _settle_existing(
        self, table: TableClient, entity: TableEntity, *, now: datetime, stale_after: timedelta
    ) -> Claim:
        current = from_entity(entity)
        if current.state in _FINISHED:
            return Claim(ClaimStatus.DONE, current.event_id, current.subscription, current.attempt)
        released = current.state is DeliveryState.RELEASED
        if not released and utc(now) - current.claimed_at < stale_after:
            return Claim(ClaimStatus.IN_PROGRESS, current.event_id, current.subscription, current.attempt)
        attempt = current.attempt + 1
        taken = DeliveryRecord(
            current.event_id, current.subscription, DeliveryState.CLAIMED, attempt=attempt, claimed_at=now
        )
        seen = etag_of(entity.metadata)
        if seen is None:
            raise UpstreamError("Tables returned a delivery row without an etag")
        try:
            etag = await self._writer.replace(
                table.table_name,
                to_entity(current.event_id, current.subscription, taken),
                etag=seen,
                operation="take over stale delivery claim",
            )
        except ConflictError:
            return Claim(ClaimStatus.IN_PROGRESS, current.event_id, current.subscription, current.attempt)
        log.info(
            "took over stale delivery claim event_id=%s subscription=%s attempt=%s",
            current.event_id,
            current.subscription,
            attempt,
        )
        return Claim(ClaimStatus.RESUMED, current.event_id, current.subscription, attempt, etag)

    async def finish(self, claim: Claim, record: DeliveryRecord) -> None:
        """Replace the claimed row with ``record`` if it is still the row this claim saw.

        Raises ConflictError when another delivery changed or removed the row since, or when the claim is not one
        that may send (only CLAIMED and RESUMED claims carry an etag).
        """
        if claim.etag is None:
            raise ConflictError("this claim holds no etag: only CLAIMED or RESUMED claims can be finished")
        table = await self._tables.get(TABLE)
        try:
            await self._writer.replace(
                table.table_name,
                to_entity(claim.event_id, claim.subscription, record),
                etag=claim.etag,
                operation="finish delivery",
            )
        except ConflictError as exc:
            raise ConflictError(
                f"delivery {claim.event_id}/{claim.subscription} was taken over by another attempt"
            ) from exc

    async def claim_many(
        self, event_ids: Sequence[str], subscription: str, *, now: datetime, stale_after: timedelta
    ) -> dict[str, Claim]:
        """Claim distinct events with one insert transaction per partition. A transaction that meets a row already
        there (a redelivered batch) is rolled back whole by Tables; its events are then claimed one by one.

        When any group fails, the claims other groups made are released before the error is raised.
        """
        if len(set(event_ids)) != len(event_ids):
            raise ValueError("claim_many needs distinct event ids")
        table = await self._tables.get(TABLE)
        groups = transaction_groups(event_ids, subscription)
        claims = await _all_or_released(
            self, [self._claim_group(table, group, subscription, now, stale_after) for group in groups]
        )
        return {claim.event_id: claim for claim in claims}

    async def _claim_group(
        self, table: TableClient, event_ids: list[str], subscription: str, now: datetime, stale_after: timedelta
    ) -> list[Claim]:
        rows = [to_entity(event_id, subscription, first_claim(event_id, subscription, now)) for event_id in event_ids]
        try:
            etags = await self._writer.transact(
                table.table_name, [RowChange.insert(row) for row in rows], operation="claim deliveries"
            )
        except RowConflict:  # a row of the group exists already
            pass
        else:
            return [
                Claim(ClaimStatus.CLAIMED, event_id, subscription, attempt=1, etag=etag)
                for event_id, etag in zip(event_ids, etags, strict=True)
            ]
        one_by_one = [
            _listed(self.claim(event_id, subscription, now=now, stale_after=stale_after)) for event_id in event_ids
        ]
        return await _all_or_released(self, one_by_one)

    async def finish_many(self, outcomes: Sequence[tuple[Claim, DeliveryRecord]]) -> FinishReport:
        """Finish claims with one etag-conditional transaction per partition. A transaction that meets a row changed
        since its claim is rolled back whole; its rows are then finished one by one to find the conflicting ones."""
        if any(claim.etag is None for claim, _ in outcomes):
            raise ConflictError("every claim to finish must hold an etag (CLAIMED or RESUMED)")
        try:
            table = await self._tables.get(TABLE)
        except UpstreamUnavailableError:
            return FinishReport(unwritten=list(outcomes))
        by_key = {(claim.subscription, claim.event_id): (claim, record) for claim, record in outcomes}
        groups = [
            [by_key[(subscription, event_id)] for event_id in group]
            for subscription in {claim.subscription for claim, _ in outcomes}
            for group in transaction_groups((event_id for sub, event_id in by_key if sub == subscription), subscription)
        ]
        reports = await asyncio.gather(*(self._finish_group(table, group) for group in groups))
        return FinishReport(
            conflicts=[claim for report in reports for claim in report.conflicts],
            unwritten=[item for report in reports for item in report.unwritten],
        )

    async def _finish_group(self, table: TableClient, group: list[tuple[Claim, DeliveryRecord]]) -> FinishReport:
        changes = [
            RowChange.replace(to_entity(claim.event_id, claim.subscription, record), claim.etag or "")
            for claim, record in group
        ]
        try:
            await self._writer.transact(table.table_name, changes, operation="finish deliveries")
            return FinishReport()
        except RowConflict:  # a row was removed, or changed since its claim
            pass
        except UpstreamUnavailableError:
            return FinishReport(unwritten=list(group))
        report = FinishReport()
        for claim, record in group:
            try:
                await self.finish(claim, record)
            except ConflictError:
                report.conflicts.append(claim)
            except UpstreamUnavailableError:
                report.unwritten.append((claim, record))
        return report

    async def release(self, claim: Claim) -> None:
        """Mark the claim released so the next delivery takes it over at once; a claim already taken over stays."""
        if claim.etag is None:
            return
        released = DeliveryRecord(
            claim.event_id,
            claim.subscription,
            DeliveryState.RELEASED,
            attempt=claim.attempt,
            claimed_at=datetime.now(UTC),
        )
        try:
            await self.finish(claim, released)
        except ConflictError:
            log.info("claim of event_id=%s was already taken over; nothing to release", claim.event_id)

    async def forget(self, event_id: str, subscription: str) -> None:
        """Delete the delivery's row (an operator replays the event); no error when it does not exist."""
        table = await self._tables.get(TABLE)
        with mapped_errors("forget delivery"):
            await table.delete_entity(partition_key(event_id, subscription), row_key(event_id))

    async def get(self, event_id: str, subscription: str) -> DeliveryRecord | None:
        """Return the delivery's row, or None when it was never claimed."""
        table = await self._tables.get(TABLE)
        with mapped_errors("get delivery"):
            try:
                entity = await table.get_entity(partition_key(event_id, subscription), row_key(event_id))
            except ResourceNotFoundError:
                return None
        return from_entity(entity)


async def _all_or_released(log: TableDeliveryLog, calls: Sequence[Awaitable[list[Claim]]]) -> list[Claim]:
    """Await every call; if any failed, release the claims the others made and raise the first error."""
    answers = await asyncio.gather(*calls, return_exceptions=True)
    claims = [claim for answer in answers if isinstance(answer, list) for claim in answer]
    failure = next((answer for answer in answers if isinstance(answer, BaseException)), None)
    if failure is not None:
        await _release_quietly(log, claims)
        raise failure
    return claims


async def _listed(call: Awaitable[Claim]) -> list[Claim]:
    return [await call]


async def _release_quietly(log: TableDeliveryLog, claims: Iterable[Claim]) -> None:
    """Give back claims made by a batch call that failed elsewhere; a claim that cannot be released turns stale."""
    holding = [claim for claim in claims if claim.status in (ClaimStatus.CLAIMED, ClaimStatus.RESUMED)]
    await asyncio.gather(*(log.release(claim) for claim in holding), return_exceptions=True)
