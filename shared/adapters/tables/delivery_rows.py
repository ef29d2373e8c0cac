"""Delivery-log rows in Tables: keys, the partition buckets, entity mapping and transaction groups.

Keys: row = event id, partition = subscription plus one of ``PARTITIONS`` buckets chosen by a hash of the event id.
A batch's claims and outcomes then go in one entity-group transaction per bucket (a transaction must stay in one
partition), while no single partition takes a subscription's whole write rate (Azure serves one partition from one
server, about 2,000 entities per second).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from azure.data.tables import TableEntity

from shared.adapters.tables.common import as_datetime, encode_key, optional_datetime, utc
from shared.domain.records import DeliveryRecord, DeliveryState

__all__ = [
    "PARTITIONS",
    "TABLE",
    "etag_of",
    "first_claim",
    "from_entity",
    "partition_key",
    "row_key",
    "to_entity",
    "transaction_groups",
]

TABLE = "deliveries"
PARTITIONS = 4
# Azure Tables' limit of operations in one entity-group transaction.
_TRANSACTION_LIMIT = 100
_OPTIONAL_FIELDS = {
    "EventType": "event_type",
    "Audience": "audience",
    "NotificationId": "notification_id",
    "TrackingId": "tracking_id",
    "CorrelationId": "correlation_id",
    "Outcome": "outcome",
    "SendMs": "send_ms",
    "Channel": "channel",
}


def partition_key(event_id: str, subscription: str) -> str:
    bucket = hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).digest()[0] % PARTITIONS
    return encode_key(f"{subscription}.{bucket}")


def row_key(event_id: str) -> str:
    return encode_key(event_id)


def transaction_groups(event_ids: Iterable[str], subscription: str) -> list[list[str]]:
    """Event ids grouped by partition, each group small enough for one transaction."""
    by_partition: dict[str, list[str]] = {}
    for event_id in event_ids:
        by_partition.setdefault(partition_key(event_id, subscription), []).append(event_id)
    return [
        ids[start : start + _TRANSACTION_LIMIT]
        for ids in by_partition.values()
        for start in range(0, len(ids), _TRANSACTION_LIMIT)
    ]


def first_claim(event_id: str, subscription: str, now: datetime) -> DeliveryRecord:
    return DeliveryRecord(event_id, subscription, DeliveryState.CLAIMED, attempt=1, claimed_at=now)


def to_entity(event_id: str, subscription: str, record: DeliveryRecord) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": partition_key(event_id, subscription),
        "RowKey": row_key(event_id),
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


def from_entity(entity: TableEntity) -> DeliveryRecord:
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


def etag_of(metadata: Any) -> str | None:
    etag = metadata.get("etag") if metadata else None
    return str(etag) if etag is not None else None
