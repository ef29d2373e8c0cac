"""A message's copies, one per subscription: added on publish (duplicate detection, filters, TTL), later removed.

Every function works inside the caller's write transaction.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from typing import Any

from local.bus.topology import SubscriptionSpec, TopicSpec

__all__ = ["insert", "is_duplicate", "remove"]


def insert(
    db: sqlite3.Connection,
    topic: TopicSpec,
    message: Any,
    ttl: timedelta | None,
    now: float,
    *,
    check_duplicates: bool = True,
) -> bool:
    """Store a message and give each subscription whose rules accept it a copy.

    ``message`` has OutgoingMessage's fields, and may carry a ``correlation_id``. Returns False when duplicate
    detection dropped it. ``check_duplicates`` is False for a scheduled message coming due: it was checked when
    it was scheduled.
    """
    if check_duplicates and is_duplicate(db, topic, message.message_id, now):
        return False
    return _insert_copies(db, topic, message, ttl, now)


def is_duplicate(db: sqlite3.Connection, topic: TopicSpec, message_id: str, now: float) -> bool:
    """Whether duplicate detection drops ``message_id`` now; records it when not."""
    if topic.requires_duplicate_detection:
        window = topic.duplicate_window.total_seconds()
        db.execute("DELETE FROM duplicates WHERE topic = ? AND seen_at <= ?", (topic.name, now - window))
        seen = db.execute(
            "SELECT 1 FROM duplicates WHERE topic = ? AND message_id = ?", (topic.name, message_id)
        ).fetchone()
        if seen:
            return True
        db.execute("INSERT INTO duplicates VALUES (?, ?, ?)", (topic.name, message_id, now))
    return False


def _insert_copies(db: sqlite3.Connection, topic: TopicSpec, message: Any, ttl: timedelta | None, now: float) -> bool:
    matching = [sub for sub in topic.subscriptions if sub.accepts(message)]
    if not matching:
        return True
    cursor = db.execute(
        "INSERT INTO messages (topic, message_id, subject, content_type, correlation_id, body, properties,"
        " enqueued_at, ttl) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            topic.name,
            message.message_id,
            message.subject,
            message.content_type,
            getattr(message, "correlation_id", None),
            bytes(message.body),
            json.dumps(dict(message.application_properties)),
            now,
            ttl.total_seconds() if ttl else None,
        ),
    )
    seq = cursor.lastrowid
    for sub in matching:
        lifetime = _effective_ttl(ttl, topic, sub)
        db.execute(
            "INSERT INTO entries (topic, subscription, seq, state, expires_at) VALUES (?, ?, ?, 'active', ?)",
            (topic.name, sub.name, seq, now + lifetime.total_seconds() if lifetime else None),
        )
    return True


def remove(db: sqlite3.Connection, topic: str, subscription: str, seq: int) -> None:
    """Drop one subscription's copy, and the message itself once no subscription holds it."""
    db.execute("DELETE FROM entries WHERE topic = ? AND subscription = ? AND seq = ?", (topic, subscription, seq))
    db.execute("DELETE FROM messages WHERE seq = ? AND NOT EXISTS (SELECT 1 FROM entries WHERE seq = ?)", (seq, seq))


def _effective_ttl(ttl: timedelta | None, topic: TopicSpec, sub: SubscriptionSpec) -> timedelta | None:
    candidates = [value for value in (ttl, topic.default_ttl, sub.default_ttl) if value is not None]
    return min(candidates) if candidates else None
