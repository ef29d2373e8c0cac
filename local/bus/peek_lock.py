"""Peek-lock over a subscription's copies: sweep what fell due, lock the next messages, settle by lock token.

Every function works inside the caller's write transaction and takes the time as ``now`` (epoch seconds).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from local.bus import entries, scheduled
from local.bus.schema import utc
from local.bus.topology import SubscriptionSpec, TopicSpec
from shared.domain.errors import PushError

__all__ = [
    "EXPIRED_REASON",
    "MAX_DELIVERY_REASON",
    "Held",
    "LockLostError",
    "ReceivedMessage",
    "abandon",
    "dead_letter",
    "held",
    "lock_next",
    "sweep",
]

MAX_DELIVERY_REASON = "MaxDeliveryCountExceeded"
EXPIRED_REASON = "TTLExpiredException"


class LockLostError(PushError):
    """The lock on a message expired or was never held; the message will be (or was) redelivered."""


@dataclass(frozen=True)
class ReceivedMessage:
    """One subscription's copy of a message, locked for the receiver until ``locked_until``."""

    topic: str
    subscription: str
    sequence_number: int
    message_id: str
    subject: str | None
    content_type: str | None
    correlation_id: str | None
    body: bytes
    application_properties: dict[str, str]
    enqueued_time: datetime
    expires_at: datetime | None
    time_to_live: timedelta | None
    delivery_count: int
    lock_token: str
    locked_until: datetime


class Held(NamedTuple):
    """The copy a lock token holds."""

    topic: str
    subscription: str
    seq: int
    delivery_count: int


def sweep(db: sqlite3.Connection, topic: TopicSpec, sub: SubscriptionSpec, now: float) -> None:
    """Release expired locks (dead-lettering at the delivery limit), then expire messages past their TTL.

    Each statement reads only the rows that are due, through the partial indexes in ``schema``.
    """
    key = (topic.name, sub.name)
    db.execute(
        "UPDATE entries SET state = 'dead', lock_token = NULL, locked_until = NULL, dead_reason = ?,"
        " dead_description = ? WHERE topic = ? AND subscription = ? AND lock_token IS NOT NULL"
        " AND locked_until <= ? AND state = 'active' AND delivery_count >= ?",
        (MAX_DELIVERY_REASON, _max_delivery_description(sub), *key, now, sub.max_delivery_count),
    )
    db.execute(
        "UPDATE entries SET lock_token = NULL, locked_until = NULL WHERE topic = ? AND subscription = ?"
        " AND lock_token IS NOT NULL AND locked_until <= ? AND state = 'active'",
        (*key, now),
    )
    if sub.dead_letter_on_expiration:
        db.execute(
            "UPDATE entries SET state = 'dead', dead_reason = ?, dead_description = ? WHERE topic = ?"
            " AND subscription = ? AND state = 'active' AND lock_token IS NULL AND expires_at <= ?",
            (EXPIRED_REASON, "The message expired and was dead lettered.", *key, now),
        )
        return
    expired = db.execute(
        "SELECT seq FROM entries WHERE topic = ? AND subscription = ? AND state = 'active'"
        " AND lock_token IS NULL AND expires_at <= ?",
        (*key, now),
    ).fetchall()
    for (seq,) in expired:
        entries.remove(db, topic.name, sub.name, seq)


def lock_next(
    db: sqlite3.Connection, topic: TopicSpec, sub: SubscriptionSpec, now: float, max_count: int
) -> list[ReceivedMessage]:
    """Release due scheduled messages, sweep, then lock up to ``max_count`` waiting messages in sequence order."""
    scheduled.release_due(db, topic, now)
    sweep(db, topic, sub, now)
    # The index is named because SQLite rates entries_by_state as good, and that one walks past every locked copy.
    rows = db.execute(
        "SELECT e.seq, e.delivery_count, e.expires_at, m.message_id, m.subject, m.content_type,"
        " m.correlation_id, m.body, m.properties, m.enqueued_at"
        " FROM entries e INDEXED BY entries_ready JOIN messages m ON m.seq = e.seq"
        " WHERE e.topic = ? AND e.subscription = ? AND e.state = 'active' AND e.lock_token IS NULL"
        " ORDER BY e.seq LIMIT ?",
        (topic.name, sub.name, max_count),
    ).fetchall()
    locked_until = now + sub.lock_duration.total_seconds()
    received = [_received(topic, sub, row, str(uuid.uuid4()), locked_until) for row in rows]
    db.executemany(
        "UPDATE entries SET lock_token = ?, locked_until = ?, delivery_count = delivery_count + 1"
        " WHERE topic = ? AND subscription = ? AND seq = ?",
        [(message.lock_token, locked_until, topic.name, sub.name, message.sequence_number) for message in received],
    )
    return received


def held(db: sqlite3.Connection, lock_token: str, now: float) -> Held | None:
    """What the token holds, or None when its lock expired or was never held."""
    row = db.execute(
        "SELECT topic, subscription, seq, delivery_count, locked_until FROM entries"
        " WHERE lock_token = ? AND state = 'active'",
        (lock_token,),
    ).fetchone()
    if row is None or row[4] <= now:
        return None
    return Held(row[0], row[1], row[2], row[3])


def abandon(db: sqlite3.Connection, lock_token: str, sub: SubscriptionSpec, delivery_count: int) -> None:
    """Release a held lock for redelivery, or dead-letter the message once it reached MaxDeliveryCount."""
    if delivery_count >= sub.max_delivery_count:
        dead_letter(db, lock_token, MAX_DELIVERY_REASON, _max_delivery_description(sub))
    else:
        db.execute("UPDATE entries SET lock_token = NULL, locked_until = NULL WHERE lock_token = ?", (lock_token,))


def dead_letter(db: sqlite3.Connection, lock_token: str, reason: str, description: str) -> None:
    """Move the held copy to its subscription's dead-letter queue."""
    db.execute(
        "UPDATE entries SET state = 'dead', lock_token = NULL, locked_until = NULL, dead_reason = ?,"
        " dead_description = ? WHERE lock_token = ?",
        (reason, description, lock_token),
    )


def _received(
    topic: TopicSpec, sub: SubscriptionSpec, row: tuple[Any, ...], lock_token: str, locked_until: float
) -> ReceivedMessage:
    seq, count, expires_at, message_id, subject, content_type, correlation_id, body, props, enqueued = row
    effective_ttl = (expires_at - enqueued) if expires_at is not None else None
    return ReceivedMessage(
        topic=topic.name,
        subscription=sub.name,
        sequence_number=seq,
        message_id=message_id,
        subject=subject,
        content_type=content_type,
        correlation_id=correlation_id,
        body=bytes(body),
        application_properties=json.loads(props),
        enqueued_time=utc(enqueued),
        expires_at=utc(expires_at) if expires_at is not None else None,
        time_to_live=timedelta(seconds=effective_ttl) if effective_ttl is not None else None,
        delivery_count=count + 1,
        lock_token=lock_token,
        locked_until=utc(locked_until),
    )


def _max_delivery_description(sub: SubscriptionSpec) -> str:
    return f"Message could not be consumed after {sub.max_delivery_count} delivery attempts."
