"""The stand-in's memory: negotiated and open connections per hub, users, groups, and a log of what was sent."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RECORD_SEPARATOR", "Connection", "HubState", "SentMessage", "frame"]

RECORD_SEPARATOR = "\x1e"
_CLOSE = object()


def frame(message: dict[str, Any]) -> str:
    """One JSON hub protocol message with its record separator."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")) + RECORD_SEPARATOR


@dataclass
class Connection:
    """One client connection: negotiated first, then open while its WebSocket lives."""

    connection_id: str
    connection_token: str
    hub: str
    user_id: str | None
    negotiated_at: float
    outbox: asyncio.Queue[object] = field(default_factory=asyncio.Queue)
    is_open: bool = False
    opened_at: float | None = None

    def push(self, text: str) -> None:
        self.outbox.put_nowait(text)

    def close(self, error: str | None = None) -> None:
        self.outbox.put_nowait((_CLOSE, error))


@dataclass(frozen=True)
class SentMessage:
    """What one REST send did: to whom, which target and arguments, how many open connections it reached."""

    at: float
    hub: str
    scope: str  # "all", "user", "group", "connection"
    name: str | None
    target: str
    arguments: list[Any]
    connections: int

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "hub": self.hub,
            "scope": self.scope,
            "name": self.name,
            "target": self.target,
            "arguments": self.arguments,
            "connections": self.connections,
        }


def is_close(item: object) -> tuple[bool, str | None]:
    """Whether an outbox item asks the writer to close the connection, and with which error."""
    if isinstance(item, tuple) and len(item) == 2 and item[0] is _CLOSE:
        return True, item[1]
    return False, None


class HubState:
    """Everything per hub name (lower-case, as the service treats hub names)."""

    def __init__(self, *, negotiate_ttl: float, max_logged: int, clock: Callable[[], float] = time.time) -> None:
        self._negotiate_ttl = negotiate_ttl
        self._clock = clock
        self._by_token: dict[str, Connection] = {}
        self._by_id: dict[str, Connection] = {}
        # (hub, user) -> {group: expiry or None}; applies to the user's present and future connections.
        self._user_groups: dict[tuple[str, str], dict[str, float | None]] = {}
        self._connection_groups: dict[str, set[str]] = {}
        self.sent: deque[SentMessage] = deque(maxlen=max_logged)
        self.connections_opened = 0

    # ------------------------------------------------------------------------------------------ lifecycle

    def negotiate(self, hub: str, user_id: str | None) -> Connection:
        self._forget_stale()
        connection = Connection(
            connection_id=secrets.token_urlsafe(16),
            connection_token=secrets.token_urlsafe(24),
            hub=hub.lower(),
            user_id=user_id,
            negotiated_at=self._clock(),
        )
        self._by_token[connection.connection_token] = connection
        self._by_id[connection.connection_id] = connection
        return connection

    def open(self, connection_token: str) -> Connection | None:
        """The negotiated connection for ``connection_token`` (or its id, negotiate version 0), now open."""
        connection = self._by_token.get(connection_token) or self._by_id.get(connection_token)
        if connection is None or connection.is_open:
            return None
        connection.is_open = True
        connection.opened_at = self._clock()
        self.connections_opened += 1
        return connection

    def drop(self, connection: Connection) -> None:
        self._by_token.pop(connection.connection_token, None)
        self._by_id.pop(connection.connection_id, None)
        self._connection_groups.pop(connection.connection_id, None)
        connection.is_open = False

    def _forget_stale(self) -> None:
        cutoff = self._clock() - self._negotiate_ttl
        for connection in [c for c in self._by_id.values() if not c.is_open and c.negotiated_at < cutoff]:
            self.drop(connection)

    def reset(self) -> None:
        for connection in list(self._by_id.values()):
            if connection.is_open:
                connection.close("the stand-in was reset")
        self._by_token.clear()
        self._by_id.clear()
        self._user_groups.clear()
        self._connection_groups.clear()
        self.sent.clear()

    # ------------------------------------------------------------------------------------------ queries

    def open_connections(self, hub: str | None = None) -> list[Connection]:
        return [c for c in self._by_id.values() if c.is_open and (hub is None or c.hub == hub.lower())]

    def connection(self, hub: str, connection_id: str) -> Connection | None:
        found = self._by_id.get(connection_id)
        return found if found is not None and found.is_open and found.hub == hub.lower() else None

    def user_connections(self, hub: str, user_id: str) -> list[Connection]:
        return [c for c in self.open_connections(hub) if c.user_id == user_id]

    def group_connections(self, hub: str, group: str) -> list[Connection]:
        return [c for c in self.open_connections(hub) if group in self._groups_of(c)]

    def _groups_of(self, connection: Connection) -> set[str]:
        groups = set(self._connection_groups.get(connection.connection_id, set()))
        if connection.user_id is not None:
            now = self._clock()
            memberships = self._user_groups.get((connection.hub, connection.user_id), {})
            groups |= {g for g, expiry in memberships.items() if expiry is None or expiry > now}
        return groups

    # ------------------------------------------------------------------------------------------ groups

    def add_user_to_group(self, hub: str, user_id: str, group: str, ttl: float | None) -> None:
        expiry = None if ttl is None else self._clock() + ttl
        self._user_groups.setdefault((hub.lower(), user_id), {})[group] = expiry

    def remove_user_from_group(self, hub: str, user_id: str, group: str) -> None:
        self._user_groups.get((hub.lower(), user_id), {}).pop(group, None)

    def remove_user_from_all_groups(self, hub: str, user_id: str) -> None:
        self._user_groups.pop((hub.lower(), user_id), None)

    def user_in_group(self, hub: str, user_id: str, group: str) -> bool:
        expiry = self._user_groups.get((hub.lower(), user_id), {}).get(group, 0.0)
        return expiry is None or expiry > self._clock()

    def add_connection_to_group(self, connection: Connection, group: str) -> None:
        self._connection_groups.setdefault(connection.connection_id, set()).add(group)

    def remove_connection_from_group(self, connection: Connection, group: str) -> bool:
        groups = self._connection_groups.get(connection.connection_id, set())
        if group not in groups:
            return False
        groups.discard(group)
        return True

    # ------------------------------------------------------------------------------------------ sending

    def send(
        self, hub: str, scope: str, name: str | None, connections: Iterable[Connection], target: str, args: list[Any]
    ) -> int:
        """Queue one invocation on each connection; log it. Returns how many connections it reached."""
        text = frame({"type": 1, "target": target, "arguments": args})
        count = 0
        for connection in connections:
            connection.push(text)
            count += 1
        self.sent.append(SentMessage(self._clock(), hub.lower(), scope, name, target, args, count))
        return count
