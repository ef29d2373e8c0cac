"""The notification inbox: one entry per notification addressed to one user, whichever channels carried it, and the
rules of its confirmation (seen, read) and of the push fallback.

The fallback ``decision`` settles "seen in-app or pushed" exactly once: it leaves PENDING either for SEEN (the app
confirmed in time) or for PUSH (the fallback fired first), and only by a conditional write, so a confirmation and
the fallback racing each other cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.domain.channels import InAppMessage

__all__ = [
    "INBOX_CURSOR_PATTERN",
    "INBOX_PAGE_MAX",
    "INBOX_RETENTION",
    "Decision",
    "InboxEntry",
    "InboxPage",
    "new_entry",
    "with_inapp_sent",
    "with_push",
    "with_push_decided",
    "with_read",
    "with_seen",
]

# How long an entry is kept: a month covers a holiday away from the app; older rows are purged on write.
INBOX_RETENTION = timedelta(days=30)
INBOX_PAGE_MAX = 100
# A page cursor is a position in the newest-first list (the page starts after it): inverted milliseconds, then the
# entry's stored id. Every string of this shape is a position, so any the contract admits is a valid cursor.
INBOX_CURSOR_PATTERN = r"^[0-9]{15}:[A-Za-z0-9_\-@.:=~]{1,700}$"  # ids up to 128 characters, base64url-encoded


class Decision(StrEnum):
    NONE = "none"  # no fallback involved (pushed at once, or pushed and sent in-app together)
    PENDING = "pending"  # sent in-app; waiting for the app's confirmation
    SEEN = "seen"  # confirmed in time: no push
    PUSH = "push"  # not confirmed in time (or in-app failed): pushed


@dataclass(frozen=True)
class InboxEntry:
    """One notification in one user's inbox; ``version`` is the storage's etag (None before it is stored)."""

    user_id: str
    notification_id: str
    event_type: str
    title: str
    body: str
    language: str
    deep_link: str
    category: str
    silent: bool
    data: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    channels: tuple[str, ...] = ()
    decision: Decision = Decision.NONE
    inapp_sent_at: datetime | None = None
    pushed_at: datetime | None = None
    seen_at: datetime | None = None
    read_at: datetime | None = None
    version: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class InboxPage:
    items: list[InboxEntry]
    next_cursor: str | None


def new_entry(user_id: str, message: InAppMessage, decision: Decision) -> InboxEntry:
    """The entry for a notification about to be delivered (no channel has carried it yet)."""
    return InboxEntry(
        user_id=user_id,
        notification_id=message.id,
        event_type=message.type,
        title=message.title,
        body=message.body,
        language=message.language,
        deep_link=message.deep_link,
        category=message.category,
        silent=message.silent,
        data=message.data,
        created_at=message.created_at,
        expires_at=message.created_at + INBOX_RETENTION,
        decision=decision,
    )


def _with_channel(entry: InboxEntry, channel: str) -> tuple[str, ...]:
    return entry.channels if channel in entry.channels else (*entry.channels, channel)


def with_inapp_sent(entry: InboxEntry, now: datetime) -> InboxEntry:
    return replace(entry, inapp_sent_at=entry.inapp_sent_at or now, channels=_with_channel(entry, "inapp"))


def with_push(entry: InboxEntry, now: datetime) -> InboxEntry:
    """Pushed: the push channel is recorded; a PENDING fallback is decided for the push."""
    decision = Decision.PUSH if entry.decision is Decision.PENDING else entry.decision
    return replace(entry, pushed_at=entry.pushed_at or now, channels=_with_channel(entry, "push"), decision=decision)


def with_push_decided(entry: InboxEntry) -> InboxEntry:
    """The fallback fires: only from PENDING (the caller writes it conditionally)."""
    return replace(entry, decision=Decision.PUSH) if entry.decision is Decision.PENDING else entry


def with_seen(entry: InboxEntry, now: datetime) -> InboxEntry:
    """The app showed it: a PENDING fallback is settled as SEEN; later confirmations change nothing."""
    decision = Decision.SEEN if entry.decision is Decision.PENDING else entry.decision
    return replace(entry, seen_at=entry.seen_at or now, decision=decision)


def with_read(entry: InboxEntry, now: datetime) -> InboxEntry:
    """The user opened it; reading implies seeing."""
    return replace(with_seen(entry, now), read_at=entry.read_at or now)
