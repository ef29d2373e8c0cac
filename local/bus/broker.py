"""A local Service Bus: topics fan out to subscriptions, peek-lock, redelivery, dead-lettering, kept in SQLite.

One SQLite file holds messages, per-subscription copies, locks and the duplicate-detection history, so a killed
process loses nothing: locks outlive it and their messages come back when the lock expires, as on the broker.
Several processes may open the same file (a test publishing while the dev host receives): writes take an
immediate transaction, receivers poll.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from local.bus.topology import SubscriptionSpec, TopicSpec, Topology
from shared.errors import ConflictError, NotFoundError, PushError, UpstreamError
from shared.models import DeadLetteredMessage, OutgoingMessage
from shared.publishing import replay_message_id

__all__ = ["LocalBus", "LockLostError", "ReceivedMessage"]

MAX_DELIVERY_REASON = "MaxDeliveryCountExceeded"
EXPIRED_REASON = "TTLExpiredException"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    message_id TEXT NOT NULL,
    subject TEXT,
    content_type TEXT,
    correlation_id TEXT,
    body BLOB NOT NULL,
    properties TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    ttl REAL
);
CREATE TABLE IF NOT EXISTS entries (
    topic TEXT NOT NULL,
    subscription TEXT NOT NULL,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    lock_token TEXT,
    locked_until REAL,
    expires_at REAL,
    dead_reason TEXT,
    dead_description TEXT,
    PRIMARY KEY (topic, subscription, seq)
);
CREATE INDEX IF NOT EXISTS entries_by_state ON entries (topic, subscription, state, seq);
CREATE UNIQUE INDEX IF NOT EXISTS entries_by_lock ON entries (lock_token);
CREATE TABLE IF NOT EXISTS duplicates (
    topic TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (topic, message_id)
);
"""


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


@dataclass
class _Pending:
    message_id: str
    subject: str | None
    content_type: str | None
    correlation_id: str | None
    body: bytes
    application_properties: dict[str, str] = field(default_factory=dict)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class LocalBus:
    """The local bus; implements shared.ports.EventPublisher and DeadLetterStore.

    ``clock`` returns epoch seconds and is injectable so tests can move time instead of sleeping.
    """

    def __init__(
        self,
        path: Path,
        topology: Topology,
        *,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 0.1,
    ) -> None:
        self._topology = topology
        self._clock = clock
        self._poll_interval = poll_interval
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._wakeups: dict[tuple[str, str], asyncio.Event] = {}

    @property
    def topology(self) -> Topology:
        return self._topology

    def close(self) -> None:
        with self._lock:
            self._db.close()

    async def aclose(self) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ------------------------------------------------------------------------------------------ sending

    async def publish(self, topic: str, messages: Sequence[OutgoingMessage]) -> None:
        """Publish a batch atomically. Raises UpstreamError for a topic missing from the topology."""
        spec = self._topic(topic)
        with self._write() as db:
            for message in messages:
                self._insert(db, spec, message, None)
        self._wake(spec)

    async def send(self, topic: str, message: OutgoingMessage, *, time_to_live: timedelta | None = None) -> bool:
        """Publish one message; False when duplicate detection dropped it. Raises UpstreamError (unknown topic)."""
        spec = self._topic(topic)
        with self._write() as db:
            accepted = self._insert(db, spec, message, time_to_live)
        self._wake(spec)
        return accepted

    def _topic(self, name: str) -> TopicSpec:
        try:
            return self._topology.topic(name)
        except PushError as exc:
            raise UpstreamError(str(exc)) from exc

    def _insert(self, db: sqlite3.Connection, topic: TopicSpec, message: Any, ttl: timedelta | None) -> bool:
        now = self._clock()
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

    # ---------------------------------------------------------------------------------------- receiving

    async def receive(self, topic: str, subscription: str, *, max_wait: float = 0.0) -> ReceivedMessage | None:
        """Lock and return the next message of a subscription, waiting up to ``max_wait`` seconds.

        Raises UpstreamError for an entity missing from the topology.
        """
        spec = self._topic(topic)
        try:
            sub = spec.subscription(subscription)
        except PushError as exc:
            raise UpstreamError(str(exc)) from exc
        deadline = time.monotonic() + max_wait
        wakeup = self._wakeups.setdefault((spec.name, sub.name), asyncio.Event())
        while True:
            wakeup.clear()
            received = self._lock_next(spec, sub)
            if received is not None:
                return received
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            with suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), timeout=min(remaining, self._poll_interval))

    def _lock_next(self, topic: TopicSpec, sub: SubscriptionSpec) -> ReceivedMessage | None:
        now = self._clock()
        with self._write() as db:
            self._sweep(db, topic, sub, now)
            row = db.execute(
                "SELECT e.seq, e.delivery_count, e.expires_at, m.message_id, m.subject, m.content_type,"
                " m.correlation_id, m.body, m.properties, m.enqueued_at"
                " FROM entries e JOIN messages m ON m.seq = e.seq"
                " WHERE e.topic = ? AND e.subscription = ? AND e.state = 'active' AND e.lock_token IS NULL"
                " ORDER BY e.seq LIMIT 1",
                (topic.name, sub.name),
            ).fetchone()
            if row is None:
                return None
            seq, count, expires_at, message_id, subject, content_type, correlation_id, body, props, enqueued = row
            token = str(uuid.uuid4())
            locked_until = now + sub.lock_duration.total_seconds()
            db.execute(
                "UPDATE entries SET lock_token = ?, locked_until = ?, delivery_count = delivery_count + 1"
                " WHERE topic = ? AND subscription = ? AND seq = ?",
                (token, locked_until, topic.name, sub.name, seq),
            )
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
            enqueued_time=_utc(enqueued),
            expires_at=_utc(expires_at) if expires_at is not None else None,
            time_to_live=timedelta(seconds=effective_ttl) if effective_ttl is not None else None,
            delivery_count=count + 1,
            lock_token=token,
            locked_until=_utc(locked_until),
        )

    def _sweep(self, db: sqlite3.Connection, topic: TopicSpec, sub: SubscriptionSpec, now: float) -> None:
        """Release expired locks (dead-lettering at the delivery limit), then expire messages past their TTL."""
        key = (topic.name, sub.name)
        db.execute(
            "UPDATE entries SET state = 'dead', lock_token = NULL, locked_until = NULL, dead_reason = ?,"
            " dead_description = ? WHERE topic = ? AND subscription = ? AND state = 'active'"
            " AND lock_token IS NOT NULL AND locked_until <= ? AND delivery_count >= ?",
            (MAX_DELIVERY_REASON, _max_delivery_description(sub), *key, now, sub.max_delivery_count),
        )
        db.execute(
            "UPDATE entries SET lock_token = NULL, locked_until = NULL WHERE topic = ? AND subscription = ?"
            " AND state = 'active' AND lock_token IS NOT NULL AND locked_until <= ?",
            (*key, now),
        )
        if sub.dead_letter_on_expiration:
            db.execute(
                "UPDATE entries SET state = 'dead', dead_reason = ?, dead_description = ? WHERE topic = ?"
                " AND subscription = ? AND state = 'active' AND lock_token IS NULL AND expires_at <= ?",
                (EXPIRED_REASON, "The message expired and was dead lettered.", *key, now),
            )
        else:
            seqs = [
                seq
                for (seq,) in db.execute(
                    "SELECT seq FROM entries WHERE topic = ? AND subscription = ? AND state = 'active'"
                    " AND lock_token IS NULL AND expires_at <= ?",
                    (*key, now),
                )
            ]
            for seq in seqs:
                self._delete_entry(db, topic.name, sub.name, seq)

    # ---------------------------------------------------------------------------------------- settling

    async def complete(self, lock_token: str) -> None:
        """Remove a locked message from its subscription. Raises LockLostError when the lock is gone."""
        with self._write() as db:
            topic, sub, seq, _count = self._locked(db, lock_token)
            self._delete_entry(db, topic, sub, seq)

    async def abandon(self, lock_token: str) -> None:
        """Release the lock for redelivery; dead-letters at MaxDeliveryCount. Raises LockLostError."""
        with self._write() as db:
            topic, sub_name, _seq, count = self._locked(db, lock_token)
            sub = self._topology.topic(topic).subscription(sub_name)
            if count >= sub.max_delivery_count:
                self._kill(db, lock_token, MAX_DELIVERY_REASON, _max_delivery_description(sub))
            else:
                db.execute(
                    "UPDATE entries SET lock_token = NULL, locked_until = NULL WHERE lock_token = ?", (lock_token,)
                )
        self._wake_names(topic, sub_name)

    async def dead_letter(self, lock_token: str, reason: str, description: str = "") -> None:
        """Move a locked message to the subscription's dead-letter queue. Raises LockLostError."""
        with self._write() as db:
            self._locked(db, lock_token)
            self._kill(db, lock_token, reason, description)

    async def renew_lock(self, lock_token: str) -> datetime:
        """Extend a lock by the subscription's LockDuration; returns the new expiry. Raises LockLostError."""
        with self._write() as db:
            topic, sub_name, _seq, _count = self._locked(db, lock_token)
            sub = self._topology.topic(topic).subscription(sub_name)
            locked_until = self._clock() + sub.lock_duration.total_seconds()
            db.execute("UPDATE entries SET locked_until = ? WHERE lock_token = ?", (locked_until, lock_token))
        return _utc(locked_until)

    def _locked(self, db: sqlite3.Connection, lock_token: str) -> tuple[str, str, int, int]:
        row = db.execute(
            "SELECT topic, subscription, seq, delivery_count, locked_until FROM entries"
            " WHERE lock_token = ? AND state = 'active'",
            (lock_token,),
        ).fetchone()
        if row is None or row[4] <= self._clock():
            raise LockLostError("the message lock expired or is not held; the message will be redelivered")
        return row[0], row[1], row[2], row[3]

    @staticmethod
    def _kill(db: sqlite3.Connection, lock_token: str, reason: str, description: str) -> None:
        db.execute(
            "UPDATE entries SET state = 'dead', lock_token = NULL, locked_until = NULL, dead_reason = ?,"
            " dead_description = ? WHERE lock_token = ?",
            (reason, description, lock_token),
        )

    @staticmethod
    def _delete_entry(db: sqlite3.Connection, topic: str, sub: str, seq: int) -> None:
        db.execute("DELETE FROM entries WHERE topic = ? AND subscription = ? AND seq = ?", (topic, sub, seq))
        db.execute(
            "DELETE FROM messages WHERE seq = ? AND NOT EXISTS (SELECT 1 FROM entries WHERE seq = ?)", (seq, seq)
        )

    # ------------------------------------------------------------------------------------- dead letters

    async def list_dead_letters(self) -> list[DeadLetteredMessage]:
        """Every dead-lettered message of every subscription, oldest first."""
        now = self._clock()
        with self._write() as db:
            for topic in self._topology.topics:
                for sub in topic.subscriptions:
                    self._sweep(db, topic, sub, now)
            rows = db.execute(_DEAD_SELECT + " ORDER BY e.seq").fetchall()
        return [_dead_letter(row) for row in rows]

    async def replay(self, dead_letter_id: str) -> DeadLetteredMessage:
        """Re-publish a dead letter to its topic and remove it from the dead-letter queue.

        The copy gets a fresh message id (``replay_message_id``), as the Service Bus adapter does, so duplicate
        detection does not drop it. Raises NotFoundError when no such dead letter exists.
        """
        topic_name, _, rest = dead_letter_id.partition("/")
        sub_name, _, seq_text = rest.partition("/")
        if not seq_text.isdigit():
            raise NotFoundError(f"no dead letter {dead_letter_id!r}")
        with self._write() as db:
            row = db.execute(
                _DEAD_SELECT + " AND e.topic = ? AND e.subscription = ? AND e.seq = ?",
                (topic_name, sub_name, int(seq_text)),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no dead letter {dead_letter_id!r}")
            dead = _dead_letter(row)
            copy = _Pending(
                message_id=replay_message_id(dead.message_id),
                subject=dead.subject,
                content_type=dead.content_type,
                correlation_id=row[12],
                body=dead.body,
                application_properties={**dead.application_properties, "replayOf": dead.message_id or ""},
            )
            if not self._insert(db, self._topic(topic_name), copy, None):
                raise ConflictError(
                    f"message {dead.message_id!r} was published to {topic_name!r} within the duplicate detection"
                    " window; replay it after the window has passed"
                )
            self._delete_entry(db, dead.topic, dead.subscription, int(seq_text))
        self._wake(self._topic(topic_name))
        return dead

    # ------------------------------------------------------------------------------------------ helpers

    async def count_active(self, topic: str, subscription: str) -> int:
        """Messages waiting or locked in a subscription (for diagnostics and tests)."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM entries WHERE topic = ? AND subscription = ? AND state = 'active'",
            (self._topic(topic).name, subscription),
        ).fetchone()
        return int(row[0])

    def _wake(self, topic: TopicSpec) -> None:
        for sub in topic.subscriptions:
            self._wake_names(topic.name, sub.name)

    def _wake_names(self, topic: str, subscription: str) -> None:
        event = self._wakeups.get((topic, subscription))
        if event is not None:
            event.set()


_DEAD_SELECT = (
    "SELECT e.topic, e.subscription, e.seq, m.message_id, e.dead_reason, e.dead_description, m.body, m.subject,"
    " m.content_type, m.properties, m.enqueued_at, e.delivery_count, m.correlation_id"
    " FROM entries e JOIN messages m ON m.seq = e.seq WHERE e.state = 'dead'"
)


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
        enqueued_time=_utc(enqueued),
        delivery_count=count,
    )


def _effective_ttl(ttl: timedelta | None, topic: TopicSpec, sub: SubscriptionSpec) -> timedelta | None:
    candidates = [value for value in (ttl, topic.default_ttl, sub.default_ttl) if value is not None]
    return min(candidates) if candidates else None


def _max_delivery_description(sub: SubscriptionSpec) -> str:
    return f"Message could not be consumed after {sub.max_delivery_count} delivery attempts."
