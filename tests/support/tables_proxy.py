"""A loopback proxy in front of Azurite's table service that drops the requests a test picks, so a fault reaches every
client of the account alike: the Tables SDK and ``TableRowWriter``'s signed requests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from azure.data.tables.aio import TableServiceClient

__all__ = ["FaultyTablesProxy", "SeenRequest", "faulty_tables"]

_ENDPOINT = re.compile(r"TableEndpoint=http://([^:/;]+):(\d+)/")
# Hop-by-hop fields and those aiohttp sets itself from the body it sends.
_NOT_FORWARDED = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive"})


@dataclass(frozen=True, slots=True)
class SeenRequest:
    method: str
    path: str
    body: bytes

    @property
    def is_transaction(self) -> bool:
        return self.path.endswith("/$batch")


class FaultyTablesProxy:
    """Passes requests to ``upstream`` and back, except those ``fail_when`` picks: their connection is closed before
    they reach the service, as a dropped connection would be. ``seen`` lists every request, ``failed`` the dropped."""

    def __init__(self, upstream: str, fail_when: Callable[[SeenRequest], bool]) -> None:
        self.upstream = upstream
        self.fail_when = fail_when
        self.seen: list[SeenRequest] = []
        self.failed: list[SeenRequest] = []
        self._session: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        seen = SeenRequest(request.method, request.raw_path, await request.read())
        self.seen.append(seen)
        if self.fail_when(seen):
            self.failed.append(seen)
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=503)  # never written: the connection is gone
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        headers = {name: value for name, value in request.headers.items() if name.lower() not in _NOT_FORWARDED}
        async with self._session.request(
            request.method, self.upstream + request.raw_path, headers=headers, data=seen.body or None
        ) as answer:
            body = await answer.read()
            kept = {name: value for name, value in answer.headers.items() if name.lower() not in _NOT_FORWARDED}
            return web.Response(status=answer.status, headers=kept, body=body)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


@asynccontextmanager
async def faulty_tables(
    conn_str: str, fail_when: Callable[[SeenRequest], bool]
) -> AsyncIterator[tuple[TableServiceClient, FaultyTablesProxy]]:
    """A TableServiceClient (no retries of its own) that reaches the account on ``conn_str`` through a proxy dropping
    the requests ``fail_when`` picks; a ``TableRowWriter.for_service`` of it goes through the same proxy."""
    endpoint = _ENDPOINT.search(conn_str)
    if endpoint is None:
        raise ValueError("the connection string names no http TableEndpoint")
    host, port = endpoint.groups()
    proxy = FaultyTablesProxy(f"http://{host}:{port}", fail_when)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    proxy_port = runner.addresses[0][1]
    service = TableServiceClient.from_connection_string(
        _ENDPOINT.sub(f"TableEndpoint=http://127.0.0.1:{proxy_port}/", conn_str), retry_total=0
    )
    try:
        yield service, proxy
    finally:
        await service.close()
        await proxy.close()
        await runner.cleanup()
