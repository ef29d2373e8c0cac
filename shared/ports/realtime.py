"""Real-time ports: the SignalR Service as the use cases see it, and the users' notification inbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.domain.inbox import InboxEntry, InboxPage

__all__ = ["ClientConnection", "InboxStore", "RealtimeGateway"]


@dataclass(frozen=True)
class ClientConnection:
    """What negotiate answers: where the client connects and the token it connects with."""

    url: str
    access_token: str


class RealtimeGateway(Protocol):
    """Azure SignalR Service (Serverless mode), hub ``notifications``.

    Raises UpstreamUnavailableError when the service is down, slow (past the adapter's short timeout) or throttling,
    and UpstreamError when it refuses the request for good; never retries: push is the fallback.
    """

    @property
    def client_origin(self) -> str:
        """``scheme://host[:port]`` browsers connect to (the negotiate answer's ``url`` is under it): pages allow it."""
        ...

    async def client_connection(self, user_id: str) -> ClientConnection:
        """A client's connection info for ``user_id`` (a token the app signs, or the service issues)."""
        ...

    async def is_connected(self, user_id: str) -> bool:
        """Whether the service holds at least one connection of ``user_id`` right now."""
        ...

    async def send_to_user(self, user_id: str, target: str, arguments: Sequence[Any]) -> None:
        """Invoke ``target`` with ``arguments`` on every connection of ``user_id`` (none is not an error)."""
        ...


class InboxStore(Protocol):
    """The users' notification inboxes. Raises UpstreamError (UpstreamUnavailableError when transient)."""

    async def add(self, entry: InboxEntry) -> InboxEntry | None:
        """Insert if absent: the stored entry (with its version), or None when the user already has this id."""
        ...

    async def get(self, user_id: str, notification_id: str) -> InboxEntry | None: ...

    async def replace(self, entry: InboxEntry) -> InboxEntry:
        """Write ``entry`` if the stored one is still at ``entry.version``; the new version comes back.

        Raises ConflictError when it changed meanwhile, NotFoundError when it is gone.
        """
        ...

    async def list(self, user_id: str, *, limit: int, cursor: str | None, now: datetime) -> InboxPage:
        """Newest first, ``limit`` at most, after ``cursor`` (from the previous page); expired entries left out.

        Raises ValidationError for a cursor this store did not hand out.
        """
        ...
