"""Scheduled enqueue, as Service Bus's ScheduleMessageAsync: a message is held until its time, then enqueued.

Duplicate detection applies when the message is scheduled (as on the broker, a scheduled copy counts from then);
a receive releases the topic's due messages before it locks the next one. Works inside the caller's transaction.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from types import SimpleNamespace
from typing import Any

from local.bus import entries
from local.bus.topology import TopicSpec

__all__ = ["add", "release_due"]


def add(db: sqlite3.Connection, topic: TopicSpec, message: Any, due: float, now: float) -> bool:
    """Hold ``message`` (OutgoingMessage's fields) until ``due``; False when duplicate detection drops it."""
    if entries.is_duplicate(db, topic, message.message_id, now):
        return False
    document = {
        "message_id": message.message_id,
        "subject": message.subject,
        "content_type": message.content_type,
        "correlation_id": getattr(message, "correlation_id", None),
        "body": base64.b64encode(bytes(message.body)).decode("ascii"),
        "application_properties": dict(message.application_properties),
    }
    db.execute("INSERT INTO scheduled (topic, due, message) VALUES (?, ?, ?)", (topic.name, due, json.dumps(document)))
    return True


def release_due(db: sqlite3.Connection, topic: TopicSpec, now: float) -> int:
    """Enqueue every message of ``topic`` whose time has come, in order; returns how many."""
    rows = db.execute(
        "SELECT id, message FROM scheduled WHERE topic = ? AND due <= ? ORDER BY due, id", (topic.name, now)
    ).fetchall()
    for row_id, text in rows:
        document = json.loads(text)
        document["body"] = base64.b64decode(document["body"])
        entries.insert(db, topic, SimpleNamespace(**document), None, now, check_duplicates=False)
        db.execute("DELETE FROM scheduled WHERE id = ?", (row_id,))
    return len(rows)
