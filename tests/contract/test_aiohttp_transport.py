"""The aiohttp-backed httpx transport: real loopback requests, and aiohttp's failures as httpx's exceptions."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from shared.notification_hubs.aiohttp_transport import AiohttpTransport

pytestmark = pytest.mark.contract


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def serve(handler) -> tuple[asyncio.AbstractServer, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


class TestAiohttpTransport:
    async def test_round_trips_method_headers_body_and_status(self):
        seen: dict[str, bytes] = {}

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(
                next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
            )
            seen["head"], seen["body"] = head, await reader.readexactly(length)
            writer.write(b"HTTP/1.1 201 Created\r\nLocation: http://x/hub/messages/abc\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()

        server, port = await serve(handler)
        async with server, httpx.AsyncClient(transport=AiohttpTransport()) as client:
            response = await client.post(
                f"http://127.0.0.1:{port}/hub/messages?api-version=2020-06",
                headers={"ServiceBusNotification-Format": "template", "Content-Type": "application/json"},
                content=b'{"a":"b"}',
            )
        assert response.status_code == 201
        assert response.headers["location"] == "http://x/hub/messages/abc"
        assert seen["head"].startswith(b"POST /hub/messages?api-version=2020-06 HTTP/1.1")
        assert b"servicebusnotification-format: template" in seen["head"].lower()
        assert seen["body"] == b'{"a":"b"}'

    async def test_a_refused_connection_is_a_connect_error(self):
        async with httpx.AsyncClient(transport=AiohttpTransport()) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{closed_port()}/")

    async def test_a_slow_answer_is_a_read_timeout(self):
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(2)
            writer.close()

        server, port = await serve(handler)
        async with server, httpx.AsyncClient(transport=AiohttpTransport(), timeout=httpx.Timeout(0.2)) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(f"http://127.0.0.1:{port}/")

    async def test_a_dropped_connection_is_a_protocol_error(self):
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.close()

        server, port = await serve(handler)
        async with server, httpx.AsyncClient(transport=AiohttpTransport()) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(f"http://127.0.0.1:{port}/", content=b"x")
