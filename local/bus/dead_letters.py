"""Dead-letter queues: list every subscription's dead letters, and take one out to replay it.

Every function works inside the caller's write transaction.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from local.bus import entries
from local.bus.schema import utc
from shared.domain.errors import NotFoundError
from shared.domain.publishing import replay_message_id
from shared.domain.records import DeadLetteredMessage

__all__ = ["ReplayCopy", "list_all", "take"]

_DEAD_SELECT = (
    "SELECT e.topic, e.subscription, e.seq, m.message_id, e.dead_reason, e.dead_description, m.body, m.subject,"
    " m.content_type, m.properties, m.enqueued_at, e.delivery_count, m.correlation_id"
    " FROM entries e JOIN messages m ON m.seq = e.seq WHERE e.state = 'dead'"
)


@dataclass(frozen=True)
class ReplayCopy:
    """A dead letter as it is re-published: fresh message id, ``replayOf`` naming the original."""

    message_id: str
    subject: str | None
    content_type: str | None
    correlation_id: str | None
    body: bytes
    application_properties: dict[str, str] = field(default_factory=dict)


def list_all(db: sqlite3.Connection) -> list[DeadLetteredMessage]:
    """Every dead letter of every subscription, oldest first."""
    return [_dead_letter(row) for row in db.execute(_DEAD_SELECT + " ORDER BY e.seq").fetchall()]


def take(db: sqlite3.Connection, dead_letter_id: str) -> tuple[DeadLetteredMessage, ReplayCopy]:
    """Remove a dead letter from its queue; returns it and the copy to re-publish to its topic.

    The copy gets a fresh message id (``replay_message_id``), as the Service Bus adapter does, so duplicate
    detection does not drop it. Raises NotFoundError when no such dead letter exists.
    """
    topic, _, rest = dead_letter_id.partition("/")
    subscription, _, seq_text = rest.partition("/")
    if not seq_text.isdigit():
        raise NotFoundError(f"no dead letter {dead_letter_id!r}")
    row = db.execute(
        _DEAD_SELECT + " AND e.topic = ? AND e.subscription = ? AND e.seq = ?", (topic, subscription, int(seq_text))
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no dead letter {dead_letter_id!r}")
    dead = _dead_letter(row)
    copy = ReplayCopy(
        message_id=replay_message_id(dead.message_id),
        subject=dead.subject,
        content_type=dead.content_type,
        correlation_id=row[12],
        body=dead.body,
        application_properties={**dead.application_properties, "replayOf": dead.message_id or ""},
    )
    entries.remove(db, dead.topic, dead.subscription, int(seq_text))
    return dead, copy


def _dead_letter(row: tuple[Any, ...]) -> DeadLetteredMessage:
    topic, sub, seq, message_id, reason, description, body, subject, content_type, props, enqueued, count = row[:12]
    return DeadLetteredMessage(
        id=f"{topic}/{sub}/{seq}",
        topic=topic,
        subscription=sub,
        message_id=message_id,
        reason=reason,
        description=description,
        body=bytes(body),
        subject=subject,
        content_type=content_type,
        application_properties=json.loads(props),
        enqueued_time=utc(enqueued),
        delivery_count=count,
    )
