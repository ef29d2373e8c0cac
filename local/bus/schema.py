"""The local bus's SQLite tables and indexes, and opening a connection to them.

Times are stored as epoch seconds (REAL). The partial indexes keep every receive cheap however large the backlog:
each one holds only the rows a receive looks for (ready to lock, locked, due to expire), so the sweep before a
receive and the pick of the next message read the few rows that are due instead of the whole subscription.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["connect", "try_begin_immediate", "utc"]

# How long a statement other than a write transaction's BEGIN waits for another connection's lock.
_BUSY_TIMEOUT_MS = 10_000
_OPEN_RETRY_SECONDS = 0.02

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
-- Held locks only: a full index on lock_token would also hold every unlocked row, and SQLite would pick it
-- for "lock_token IS NULL" and read the whole backlog (files made before this index carry the old one).
DROP INDEX IF EXISTS entries_by_lock;
CREATE UNIQUE INDEX IF NOT EXISTS entries_by_held_lock ON entries (lock_token) WHERE lock_token IS NOT NULL;
-- Whether any subscription still holds a message, when one copy is removed.
CREATE INDEX IF NOT EXISTS entries_by_seq ON entries (seq);
-- The next messages to lock, in sequence order.
CREATE INDEX IF NOT EXISTS entries_ready ON entries (topic, subscription, seq)
    WHERE state = 'active' AND lock_token IS NULL;
-- Locks that ran out (only locked rows are in it).
CREATE INDEX IF NOT EXISTS entries_by_lock_expiry ON entries (topic, subscription, locked_until)
    WHERE lock_token IS NOT NULL;
-- Waiting messages past their time to live.
CREATE INDEX IF NOT EXISTS entries_by_expiry ON entries (topic, subscription, expires_at)
    WHERE state = 'active' AND lock_token IS NULL AND expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS duplicates (
    topic TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (topic, message_id)
);
-- Messages published for later (scheduled enqueue): moved into entries when due.
CREATE TABLE IF NOT EXISTS scheduled (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    due REAL NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS scheduled_by_due ON scheduled (topic, due);
-- Message ids that left the duplicate detection window.
CREATE INDEX IF NOT EXISTS duplicates_by_age ON duplicates (topic, seen_at);
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the bus file in autocommit mode; callers open their own transactions.

    Several processes may open a new file at once (dev hosts sharing one bus). Switching it to WAL then answers
    SQLITE_BUSY at once to all but one, without waiting on the busy timeout (SQLite skips its busy handler where
    waiting could deadlock), so that step is tried again until the busy timeout has passed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT_MS / 1000)
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                db.close()
                raise
            time.sleep(_OPEN_RETRY_SECONDS)
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)
    return db


def try_begin_immediate(db: sqlite3.Connection) -> bool:
    """Open an immediate (write) transaction if no other connection holds the file's write lock; False if one does.

    Never waits: the caller decides how (the connection's own busy timeout stays for every other statement).
    """
    db.execute("PRAGMA busy_timeout = 0")
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
            raise
        return False
    finally:
        db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    return True


def utc(epoch: float) -> datetime:
    """A stored time as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch, UTC)
