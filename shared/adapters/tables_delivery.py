"""TableDeliveryLog: claims and outcomes of deliveries, table ``deliveries`` (partition = event, row = subscription).

A claim is an insert-if-absent; a stale claim is taken over with an etag-conditional update, so of any number of
concurrent deliveries of one event exactly one goes ahead.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.adapters.tables_common import TableSet, as_datetime, encode_key, mapped_errors, optional_datetime, utc
from shared.errors import ConflictError
from shared.models import Claim, ClaimStatus, DeliveryRecord, DeliveryState

__all__ = ["TableDeliveryLog"]

log = logging.getLogger(__name__)

TABLE = "deliveries"
_FINISHED = frozenset({DeliveryState.SENT, DeliveryState.SKIPPED, DeliveryState.FAILED})
# A row can vanish between "insert failed: exists" and the read (someone deleted it); try the insert again a few times.
_CLAIM_ROUNDS = 3
_OPTIONAL_FIELDS = {
    "EventType": "event_type",
    "Audience": "audience",
    "NotificationId": "notification_id",
    "TrackingId": "tracking_id",
    "CorrelationId": "correlation_id",
    "Outcome": "outcome",
    "SendMs": "send_ms",
}


def _keys(event_id: str, subscription: str) -> dict[str, str]:
    return {"PartitionKey": encode_key(event_id), "RowKey": encode_key(subscription)}


def _to_entity(event_id: str, subscription: str, record: DeliveryRecord) -> dict[str, Any]:
    entity: dict[str, Any] = {
        **_keys(event_id, subscription),
        "EventId": event_id,
        "Subscription": subscription,
        "State": record.state.value,
        "Attempt": record.attempt,
        "ClaimedAt": utc(record.claimed_at),
    }
    for prop, attr in _OPTIONAL_FIELDS.items():
        value = getattr(record, attr)
        if value is not None:
            entity[prop] = float(value) if prop == "SendMs" else value
    if record.finished_at is not None:
        entity["FinishedAt"] = utc(record.finished_at)
    return entity


def _from_entity(entity: TableEntity) -> DeliveryRecord:
    optional = {attr: entity.get(prop) for prop, attr in _OPTIONAL_FIELDS.items()}
    return DeliveryRecord(
        event_id=entity["EventId"],
        subscription=entity["Subscription"],
        state=DeliveryState(entity["State"]),
        attempt=int(entity["Attempt"]),
        claimed_at=as_datetime(entity["ClaimedAt"]),
        finished_at=optional_datetime(entity.get("FinishedAt")),
        **optional,
    )


def _etag(metadata: Any) -> str | None:
    etag = metadata.get("etag") if metadata else None
    return str(etag) if etag is not None else None


class TableDeliveryLog:
    """DeliveryLog on azure.data.tables.aio. Raises UpstreamError (UpstreamUnavailableError when transient)."""

    def __init__(self, service: TableServiceClient, table_prefix: str = "") -> None:
        self._tables = TableSet(service, table_prefix)

    async def claim(self, event_id: str, subscription: str, *, now: datetime, stale_after: timedelta) -> Claim:
        """Claim a delivery: CLAIMED when new, DONE when finished, IN_PROGRESS when another claim is fresh (or wins
        the take-over race), RESUMED when this call took over a claim older than ``stale_after``."""
        table = await self._tables.get(TABLE)
        first = DeliveryRecord(event_id, subscription, DeliveryState.CLAIMED, attempt=1, claimed_at=now)
        for _ in range(_CLAIM_ROUNDS):
            with mapped_errors("claim delivery"):
                try:
                    metadata = await table.create_entity(_to_entity(event_id, subscription, first))
                except ResourceExistsError:
                    pass
                else:
                    return Claim(ClaimStatus.CLAIMED, event_id, subscription, attempt=1, etag=_etag(metadata))
                try:
                    entity = await table.get_entity(encode_key(event_id), encode_key(subscription))
                except ResourceNotFoundError:
                    continue
            return await self._settle_existing(table, entity, now=now, stale_after=stale_after)
        return Claim(ClaimStatus.IN_PROGRESS, event_id, subscription, attempt=0)

    async def _settle_existing(
        self, table: TableClient, entity: TableEntity, *, now: datetime, stale_after: timedelta
    ) -> Claim:
        current = _from_entity(entity)
        if current.state in _FINISHED:
            return Claim(ClaimStatus.DONE, current.event_id, current.subscription, current.attempt)
        released = current.state is DeliveryState.RELEASED
        if not released and utc(now) - current.claimed_at < stale_after:
            return Claim(ClaimStatus.IN_PROGRESS, current.event_id, current.subscription, current.attempt)
        attempt = current.attempt + 1
        taken = DeliveryRecord(
            current.event_id, current.subscription, DeliveryState.CLAIMED, attempt=attempt, claimed_at=now
        )
        with mapped_errors("take over stale delivery claim"):
            try:
                metadata = await table.update_entity(
                    _to_entity(current.event_id, current.subscription, taken),
                    mode=UpdateMode.REPLACE,
                    etag=_etag(entity.metadata),
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                return Claim(ClaimStatus.IN_PROGRESS, current.event_id, current.subscription, current.attempt)
        log.info(
            "took over stale delivery claim event_id=%s subscription=%s attempt=%s",
            current.event_id,
            current.subscription,
            attempt,
        )
        return Claim(ClaimStatus.RESUMED, current.event_id, current.subscription, attempt, _etag(metadata))

    async def finish(self, claim: Claim, record: DeliveryRecord) -> None:
        """Replace the claimed row with ``record`` if it is still the row this claim saw.

        Raises ConflictError when another delivery changed or removed the row since, or when the claim is not one
        that may send (only CLAIMED and RESUMED claims carry an etag).
        """
        if claim.etag is None:
            raise ConflictError("this claim holds no etag: only CLAIMED or RESUMED claims can be finished")
        table = await self._tables.get(TABLE)
        with mapped_errors("finish delivery"):
            try:
                await table.update_entity(
                    _to_entity(claim.event_id, claim.subscription, record),
                    mode=UpdateMode.REPLACE,
                    etag=claim.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError) as exc:
                raise ConflictError(
                    f"delivery {claim.event_id}/{claim.subscription} was taken over by another attempt"
                ) from exc

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
            await table.delete_entity(encode_key(event_id), encode_key(subscription))

    async def get(self, event_id: str, subscription: str) -> DeliveryRecord | None:
        """Return the delivery's row, or None when it was never claimed."""
        table = await self._tables.get(TABLE)
        with mapped_errors("get delivery"):
            try:
                entity = await table.get_entity(encode_key(event_id), encode_key(subscription))
            except ResourceNotFoundError:
                return None
        return _from_entity(entity)
