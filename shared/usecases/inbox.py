"""Use cases of the caller's notification inbox and real-time connection: negotiate, list, confirm seen, read.

Owner-only: an entry is looked up under the caller's own user id, so another user's id answers 404 as if absent.
"""

from __future__ import annotations

from datetime import datetime

from shared.domain.errors import NotFoundError, UpstreamUnavailableError, ValidationError
from shared.domain.identity import Identity
from shared.domain.inbox import INBOX_PAGE_MAX, InboxEntry, InboxPage, with_read, with_seen
from shared.ports import ClientConnection, InboxStore, RealtimeGateway
from shared.usecases.channel_delivery import update_entry

__all__ = ["connection_for", "list_notifications", "mark_read", "mark_seen"]


async def connection_for(identity: Identity, realtime: RealtimeGateway | None) -> ClientConnection:
    """The caller's SignalR connection info, for the caller's own user id only.

    Raises UpstreamUnavailableError when real-time delivery is not configured.
    """
    if realtime is None:
        raise UpstreamUnavailableError("real-time delivery is not configured")
    return await realtime.client_connection(identity.user_id)


async def list_notifications(
    inbox: InboxStore, identity: Identity, *, limit: int, cursor: str | None, now: datetime
) -> InboxPage:
    """The caller's notifications, newest first. Raises ValidationError for a limit outside 1..100 or a bad cursor."""
    if not 1 <= limit <= INBOX_PAGE_MAX:
        raise ValidationError(f"limit must be between 1 and {INBOX_PAGE_MAX}")
    return await inbox.list(identity.user_id, limit=limit, cursor=cursor, now=now)


async def mark_seen(inbox: InboxStore, identity: Identity, notification_id: str, now: datetime) -> InboxEntry:
    """The app showed the notification: settles a pending push fallback as seen. Idempotent. Raises NotFoundError."""
    return await update_entry(inbox, await _own(inbox, identity, notification_id), lambda e: with_seen(e, now))


async def mark_read(inbox: InboxStore, identity: Identity, notification_id: str, now: datetime) -> InboxEntry:
    """The user opened the notification (reading implies seeing). Idempotent. Raises NotFoundError."""
    return await update_entry(inbox, await _own(inbox, identity, notification_id), lambda e: with_read(e, now))


async def _own(inbox: InboxStore, identity: Identity, notification_id: str) -> InboxEntry:
    entry = await inbox.get(identity.user_id, notification_id)
    if entry is None:
        raise NotFoundError(f"no notification {notification_id!r}")
    return entry
