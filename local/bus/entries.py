"""A message's copies, one per subscription: added on publish (duplicate detection, filters, TTL), later removed.

Every function works inside the caller's write transaction.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from typing import Any

from local.bus.topology import SubscriptionSpec, TopicSpec

__all__ = ["insert", "remove"]


def insert(db: sqlite3.Connection, topic: TopicSpec, message: Any, ttl: timedelta | None, now: float) -> bool:
    """Store a message and give each subscription whose rules accept it a copy.

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
