"""The process's Tables client honours a proxy named in the environment (its env lookups are skipped otherwise)."""

from __future__ import annotations

import asyncio

import pytest
from azure.core.exceptions import AzureError

from shared.adapters.tables import make_table_service_client
from tests.support.azurite import connection_string, free_port

pytestmark = pytest.mark.integration


async def test_requests_go_through_the_proxy_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readline())
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{port}")
    unreachable = free_port()  # nothing listens there: only the proxy can answer
    client = make_table_service_client(None, connection_string(unreachable), None)
    try:
        async with server:
            table = client.get_table_client("t")
            with pytest.raises(AzureError):  # the proxy's 503, after the client's retries
                await table.get_entity("p", "r")
    finally:
        await client.close()
    assert seen
    assert seen[0].startswith(b"GET http://127.0.0.1:%d/" % unreachable)
