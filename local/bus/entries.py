"""A message's copies, one per subscription: added on publish (duplicate detection, filters, TTL), later removed.

A message with a ``scheduled_enqueue_time`` in the future is held in the ``scheduled`` table and enqueued when it
falls due (``release_due``, called before every receive), as Service Bus does with scheduled messages: duplicate
detection applies when it is sent, the subscriptions' filters and its time to live when it is enqueued.

Every function works inside the caller's write transaction.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from local.bus.topology import SubscriptionSpec, TopicSpec

__all__ = ["insert", "release_due", "remove"]


def insert(db: sqlite3.Connection, topic: TopicSpec, message: Any, ttl: timedelta | None, now: float) -> bool:
    """Store a message and give each subscription whose rules accept it a copy (or hold it until its scheduled
    enqueue time).

    ``message`` has OutgoingMessage's fields, and may carry a ``correlation_id``. Returns False when duplicate
    detection dropped it.
    """
    if topic.requires_duplicate_detection:
        window = topic.duplicate_window.total_seconds()
        db.execute("DELETE FROM duplicates WHERE topic = ? AND seen_at <= ?", (topic.name, now - window))
        seen = db.execute(
            "SELECT 1 FROM duplicates WHERE topic = ? AND message_id = ?", (topic.name, message.message_id)
        ).fetchone()
        if seen:
            return False
        db.execute("INSERT INTO duplicates VALUES (?, ?, ?)", (topic.name, message.message_id, now))
    scheduled: datetime | None = getattr(message, "scheduled_enqueue_time", None)
    if scheduled is not None and scheduled.timestamp() > now:
        db.execute(
            "INSERT INTO scheduled (topic, message_id, subject, content_type, correlation_id, body, properties,"
            " due_at, ttl) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*_columns(topic, message), scheduled.timestamp(), ttl.total_seconds() if ttl else None),
        )
        return True
    _enqueue(db, topic, message, ttl, now)
    return True


def release_due(db: sqlite3.Connection, topic: TopicSpec, now: float) -> None:
    """Enqueue every scheduled message of ``topic`` whose time has come, enqueued at its scheduled time."""
    rows = db.execute(
        "SELECT id, message_id, subject, content_type, correlation_id, body, properties, due_at, ttl"
        " FROM scheduled WHERE topic = ? AND due_at <= ? ORDER BY due_at, id",
        (topic.name, now),
    ).fetchall()
    for row_id, message_id, subject, content_type, correlation_id, body, properties, due_at, ttl in rows:
        message = SimpleNamespace(
            message_id=message_id,
            subject=subject,
            content_type=content_type,
            correlation_id=correlation_id,
            body=bytes(body),
            application_properties=json.loads(properties),
        )
        _enqueue(db, topic, message, timedelta(seconds=ttl) if ttl is not None else None, due_at)
        db.execute("DELETE FROM scheduled WHERE id = ?", (row_id,))


def _columns(topic: TopicSpec, message: Any) -> tuple[Any, ...]:
    return (
        topic.name,
        message.message_id,
        message.subject,
        message.content_type,
        getattr(message, "correlation_id", None),
        bytes(message.body),
        json.dumps(dict(message.application_properties)),
    )


def _enqueue(db: sqlite3.Connection, topic: TopicSpec, message: Any, ttl: timedelta | None, now: float) -> None:
    matching = [sub for sub in topic.subscriptions if sub.accepts(message)]
    if not matching:
        return
    cursor = db.execute(
        "INSERT INTO messages (topic, message_id, subject, content_type, correlation_id, body, properties,"
        " enqueued_at, ttl) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*_columns(topic, message), now, ttl.total_seconds() if ttl else None),
    )
    seq = cursor.lastrowid
    for sub in matching:
        lifetime = _effective_ttl(ttl, topic, sub)
        db.execute(
            "INSERT INTO entries (topic, subscription, seq, state, expires_at) VALUES (?, ?, ?, 'active', ?)",
            (topic.name, sub.name, seq, now + lifetime.total_seconds() if lifetime else None),
        )


def remove(db: sqlite3.Connection, topic: str, subscription: str, seq: int) -> None:
    """Drop one subscription's copy, and the message itself once no subscription holds it."""
    db.execute("DELETE FROM entries WHERE topic = ? AND subscription = ? AND seq = ?", (topic, subscription, seq))
    db.execute("DELETE FROM messages WHERE seq = ? AND NOT EXISTS (SELECT 1 FROM entries WHERE seq = ?)", (seq, seq))


def _effective_ttl(ttl: timedelta | None, topic: TopicSpec, sub: SubscriptionSpec) -> timedelta | None:
    candidates = [value for value in (ttl, topic.default_ttl, sub.default_ttl) if value is not None]
    return min(candidates) if candidates else None
