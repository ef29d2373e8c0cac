"""What the row writer's and reader's test modules share besides their fixtures (in conftest): a token credential
stand-in, a loopback server for stand-ins of the service, properties of every type the writer stores, odd keys."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from azure.core.credentials import AccessToken

__all__ = ["ODD_KEYS", "PROPERTIES", "FakeCredential", "loopback"]

PROPERTIES: dict[str, Any] = {
    "Text": "grüße, 'quoted' and \"double\"",
    "Flag": True,
    "Small": 2_147_483_647,
    "Negative": -(2**31),
    "Ratio": 812.5,
    "Whole": 3.0,
    "At": datetime(2026, 11, 29, 13, 5, 7, 123456, tzinfo=UTC),
    "Local": datetime(2026, 11, 29, 14, 5, 7, tzinfo=UTC).astimezone(),
}


# (PartitionKey, RowKey) pairs with quotes and characters reserved in URLs and OData.
ODD_KEYS = [("o'brien", "it's"), ("ev.03", "0123abcd:push:~dTphbGljZQ"), ("space and %25", "é:@=+,;$&!*()")]


class FakeCredential:
    """An AsyncTokenCredential that hands out numbered tokens valid for ``lifetime`` seconds."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(f"token-{len(self.scopes)}", int(time.time() + self.lifetime))

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> FakeCredential:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None


@asynccontextmanager
async def loopback(
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]], *methods: str, path: str = "/"
) -> AsyncIterator[str]:
    """A server on 127.0.0.1 answering ``methods`` on every path with ``handle``; yields its URL at ``path``."""
    app = web.Application()
    for method in methods:
        app.router.add_route(method, "/{tail:.*}", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url(path))
    finally:
        await server.close()
