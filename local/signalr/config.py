"""Settings of the SignalR Service stand-in and its well-known access key."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_PORT", "WELL_KNOWN_ACCESS_KEY", "StandInConfig", "connection_string"]

DEFAULT_PORT = 8888
# The key of Microsoft's own SignalR emulator: fixed and public on purpose, it guards nothing but a local stand-in.
WELL_KNOWN_ACCESS_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"


@dataclass(frozen=True)
class StandInConfig:
    """What the stand-in enforces; the defaults are Azure's (15 s pings, 15 s handshake, 30 s client timeout)."""

    access_key: str = WELL_KNOWN_ACCESS_KEY
    ping_interval: float = 15.0
    handshake_timeout: float = 15.0
    client_timeout: float = 30.0
    # Seconds an expired token is still accepted (clock skew between the app and the service).
    token_leeway: float = 5.0
    # A negotiated connection that never opens its WebSocket is forgotten after this long.
    negotiate_ttl: float = 60.0
    cors_origins: tuple[str, ...] = ("*",)
    max_logged_messages: int = 10_000


def connection_string(host: str, port: int, access_key: str = WELL_KNOWN_ACCESS_KEY, scheme: str = "http") -> str:
    """The connection string the app uses, in Azure's format (``Port=`` as Microsoft's emulator prints it)."""
    return f"Endpoint={scheme}://{host};Port={port};AccessKey={access_key};Version=1.0;"
