"""A local Service Bus: topics fan out to subscriptions, peek-lock, redelivery, dead-lettering, kept in SQLite.

One SQLite file holds messages, per-subscription copies, locks and the duplicate-detection history, so a killed
process loses nothing: locks outlive it and their messages come back when the lock expires, as on the broker.
Several processes may open the same file (a test publishing while the dev host receives, several dev hosts): writes
take an immediate transaction, receivers poll. A write that finds another process's transaction open waits for it in
``asyncio.sleep``, never in SQLite's busy handler, which sleeps on the event loop's thread: that stalled everything
else the host was doing (four dev hosts on one bus saw their in-flight Tables calls time out).

This module is the bus's public face: transactions, entity lookup and waiting. ``schema`` holds the tables,
``entries`` adds and removes messages, ``peek_lock`` locks and settles them, ``dead_letters`` lists and replays.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path

from local.bus import dead_letters, entries, peek_lock, scheduled, schema
from local.bus.peek_lock import LockLostError, ReceivedMessage
from local.bus.topology import SubscriptionSpec, TopicSpec, Topology
from shared.domain.errors import ConflictError, PushError, UpstreamError
from shared.domain.records import DeadLetteredMessage, OutgoingMessage

__all__ = ["LocalBus", "LockLostError", "ReceivedMessage"]

_LOCK_LOST = "the message lock expired or is not held; the message will be redelivered"
# How long a write waits for other processes' transactions before it fails with "database is locked", and the
# longest pause between two tries.
BUSY_WAIT = 10.0
_MAX_PAUSE = 0.02


class LocalBus:
    """The local bus; implements shared.ports.EventPublisher and DeadLetterStore.

    ``clock`` returns epoch seconds and is injectable so tests can move time instead of sleeping; it decides
    locks and expiry. ``max_wait`` deadlines are real (monotonic) time.
    """

    def __init__(
        self,
        path: Path,
        topology: Topology,
        *,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 0.1,
        busy_wait: float = BUSY_WAIT,
    ) -> None:
        self._topology = topology
        self._clock = clock
        self._poll_interval = poll_interval
        self._busy_wait = busy_wait
        self._db = schema.connect(path)
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

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[sqlite3.Connection]:
        """One write transaction on the bus file. The body must not await: the connection's lock is held."""
        await self._begin()
        try:
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        finally:
            self._lock.release()

    async def _begin(self) -> None:
        """Take the connection's lock and open an immediate transaction, pausing between tries (off the event loop's
        thread) while another connection holds either; raises sqlite3.OperationalError after ``busy_wait``."""
        deadline = time.monotonic() + self._busy_wait
        pause = 0.001
        while True:
            if self._lock.acquire(blocking=False):
                try:
                    if schema.try_begin_immediate(self._db):
                        return
                except BaseException:
                    self._lock.release()
                    raise
                self._lock.release()
            if time.monotonic() >= deadline:
                raise sqlite3.OperationalError("database is locked")
            await asyncio.sleep(pause)
            pause = min(2 * pause, _MAX_PAUSE)

    # ------------------------------------------------------------------------------------------ sending

    async def publish(self, topic: str, messages: Sequence[OutgoingMessage]) -> None:
        """Publish a batch atomically. Raises UpstreamError for a topic missing from the topology."""
        spec = self._topic(topic)
        async with self._write() as db:
            now = self._clock()
            for message in messages:
                due = message.scheduled_enqueue_time
                if due is not None and due.timestamp() > now:
                    scheduled.add(db, spec, message, due.timestamp(), now)  # held until due, as the broker does
                else:
                    entries.insert(db, spec, message, None, now)
        self._wake(spec)

    async def schedule(self, topic: str, messages: Sequence[OutgoingMessage], at: datetime) -> None:
        """Hold messages until ``at``, then enqueue them (duplicate detection applies now). Raises UpstreamError."""
        spec = self._topic(topic)
        async with self._write() as db:
            now = self._clock()
            for message in messages:
                scheduled.add(db, spec, message, at.timestamp(), now)

    async def send(self, topic: str, message: OutgoingMessage, *, time_to_live: timedelta | None = None) -> bool:
        """Publish one message; False when duplicate detection dropped it. Raises UpstreamError (unknown topic)."""
        spec = self._topic(topic)
        async with self._write() as db:
            accepted = entries.insert(db, spec, message, time_to_live, self._clock())
        self._wake(spec)
        return accepted

    # ---------------------------------------------------------------------------------------- receiving

    async def receive(self, topic: str, subscription: str, *, max_wait: float = 0.0) -> ReceivedMessage | None:
        """Lock and return the next message of a subscription, waiting up to ``max_wait`` seconds.

        Raises UpstreamError for an entity missing from the topology.
        """
        received = await self._receive(topic, subscription, 1, max_wait)
        return received[0] if received else None

    async def receive_batch(
        self, topic: str, subscription: str, *, max_count: int, max_wait: float = 0.0
    ) -> list[ReceivedMessage]:
        """Lock and return up to ``max_count`` messages in sequence order, each under its own lock token.

        Returns as soon as any message is available, without waiting to fill the batch; waits up to ``max_wait``
        seconds for the first one and returns [] at the deadline. Raises ValueError when ``max_count`` < 1 and
        UpstreamError for an entity missing from the topology.
        """
        if max_count < 1:
            raise ValueError(f"max_count must be at least 1, not {max_count}")
        return await self._receive(topic, subscription, max_count, max_wait)

    async def _receive(self, topic: str, subscription: str, max_count: int, max_wait: float) -> list[ReceivedMessage]:
        spec, sub = self._entity(topic, subscription)
        deadline = time.monotonic() + max_wait
        wakeup = self._wakeups.setdefault((spec.name, sub.name), asyncio.Event())
        while True:
            wakeup.clear()
            async with self._write() as db:
                received = peek_lock.lock_next(db, spec, sub, self._clock(), max_count)
            if received:
                return received
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            with suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), timeout=min(remaining, self._poll_interval))

    # ---------------------------------------------------------------------------------------- settling

    async def complete(self, lock_token: str) -> None:
        """Remove a locked message from its subscription. Raises LockLostError when the lock is gone."""
        if await self.complete_many([lock_token]):
            raise LockLostError(_LOCK_LOST)

    async def complete_many(self, lock_tokens: Sequence[str]) -> list[str]:
        """Complete locked messages in one transaction; returns the tokens whose lock was lost (those are skipped).

        Raises TypeError when given one token as a plain string.
        """
        lost: list[str] = []
        async with self._write() as db:
            now = self._clock()
            for token in _tokens(lock_tokens):
                holding = peek_lock.held(db, token, now)
                if holding is None:
                    lost.append(token)
                else:
                    entries.remove(db, holding.topic, holding.subscription, holding.seq)
        return lost

    async def abandon(self, lock_token: str) -> None:
        """Release the lock for redelivery; dead-letters at MaxDeliveryCount. Raises LockLostError."""
        if await self.abandon_many([lock_token]):
            raise LockLostError(_LOCK_LOST)

    async def abandon_many(self, lock_tokens: Sequence[str]) -> list[str]:
        """Abandon locked messages in one transaction, dead-lettering those at MaxDeliveryCount.

        Returns the tokens whose lock was lost (those are skipped). Raises TypeError when given one token as a
        plain string.
        """
        lost: list[str] = []
        released: set[tuple[str, str]] = set()
        async with self._write() as db:
            now = self._clock()
            for token in _tokens(lock_tokens):
                holding = peek_lock.held(db, token, now)
                if holding is None:
                    lost.append(token)
                    continue
                sub = self._topology.topic(holding.topic).subscription(holding.subscription)
                peek_lock.abandon(db, token, sub, holding.delivery_count)
                released.add((holding.topic, holding.subscription))
        for topic, subscription in released:
            self._wake_names(topic, subscription)
        return lost

    async def dead_letter(self, lock_token: str, reason: str, description: str = "") -> None:
        """Move a locked message to the subscription's dead-letter queue. Raises LockLostError."""
        async with self._write() as db:
            if peek_lock.held(db, lock_token, self._clock()) is None:
                raise LockLostError(_LOCK_LOST)
            peek_lock.dead_letter(db, lock_token, reason, description)

    async def renew_lock(self, lock_token: str) -> datetime:
        """Extend a lock by the subscription's LockDuration; returns the new expiry. Raises LockLostError."""
        async with self._write() as db:
            now = self._clock()
            holding = peek_lock.held(db, lock_token, now)
            if holding is None:
                raise LockLostError(_LOCK_LOST)
            sub = self._topology.topic(holding.topic).subscription(holding.subscription)
            locked_until = now + sub.lock_duration.total_seconds()
            db.execute("UPDATE entries SET locked_until = ? WHERE lock_token = ?", (locked_until, lock_token))
        return schema.utc(locked_until)

    # ------------------------------------------------------------------------------------- dead letters

    async def list_dead_letters(self) -> list[DeadLetteredMessage]:
        """Every dead-lettered message of every subscription, oldest first."""
        async with self._write() as db:
            now = self._clock()
            for topic in self._topology.topics:
                for sub in topic.subscriptions:
                    peek_lock.sweep(db, topic, sub, now)
            return dead_letters.list_all(db)

    async def replay(self, dead_letter_id: str) -> DeadLetteredMessage:
        """Re-publish a dead letter to its topic and remove it from the dead-letter queue.

        The copy gets a fresh message id (``replay_message_id``), as the Service Bus adapter does, so duplicate
        detection does not drop it. Raises NotFoundError when no such dead letter exists.
        """
        async with self._write() as db:
            dead, copy = dead_letters.take(db, dead_letter_id)
            topic = self._topic(dead.topic)
            if not entries.insert(db, topic, copy, None, self._clock()):
                raise ConflictError(
                    f"message {dead.message_id!r} was published to {dead.topic!r} within the duplicate detection"
                    " window; replay it after the window has passed"
                )
        self._wake(topic)
        return dead

    # ------------------------------------------------------------------------------------------ helpers

    async def count_active(self, topic: str, subscription: str) -> int:
        """Messages waiting or locked in a subscription (for diagnostics and tests)."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM entries WHERE topic = ? AND subscription = ? AND state = 'active'",
            (self._topic(topic).name, subscription),
        ).fetchone()
        return int(row[0])

    async def count_scheduled(self, topic: str) -> int:
        """Messages scheduled on a topic that are not enqueued yet (for diagnostics and tests)."""
        row = self._db.execute("SELECT COUNT(*) FROM scheduled WHERE topic = ?", (self._topic(topic).name,)).fetchone()
        return int(row[0])

    def _topic(self, name: str) -> TopicSpec:
        try:
            return self._topology.topic(name)
        except PushError as exc:
            raise UpstreamError(str(exc)) from exc

    def _entity(self, topic: str, subscription: str) -> tuple[TopicSpec, SubscriptionSpec]:
        spec = self._topic(topic)
        try:
            return spec, spec.subscription(subscription)
        except PushError as exc:
            raise UpstreamError(str(exc)) from exc

    def _wake(self, topic: TopicSpec) -> None:
        for sub in topic.subscriptions:
            self._wake_names(topic.name, sub.name)

    def _wake_names(self, topic: str, subscription: str) -> None:
        event = self._wakeups.get((topic, subscription))
        if event is not None:
            event.set()


def _tokens(lock_tokens: Sequence[str]) -> Sequence[str]:
    if isinstance(lock_tokens, str):
        raise TypeError("lock_tokens is a sequence of lock tokens, not a single token")
    return lock_tokens
