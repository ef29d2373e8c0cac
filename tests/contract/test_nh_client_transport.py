"""The NH client's own httpx transport over loopback: keep-alive, framing, TLS, timeouts and failures as httpx's."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from local.nh_emulator.tls import write_certificates
from shared.notification_hubs.http_client import new_http_client
from shared.notification_hubs.transport import Http11Transport

pytestmark = pytest.mark.contract

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
CREATED = b"HTTP/1.1 201 Created\r\nLocation: http://x/hub/messages/abc\r\nContent-Length: 0\r\n\r\n"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """A loopback server answering each request with ``reply(head)``; it records heads, bodies and connections."""

    def __init__(self, reply: Callable[[bytes], bytes] = lambda head: CREATED, *, close_after: bool = False) -> None:
        self.reply = reply
        self.close_after = close_after
        self.heads: list[bytes] = []
        self.bodies: list[bytes] = []
        self.connections = 0
        self.closed_by_client = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                self.bodies.append(await reader.readexactly(_content_length(head)))
                writer.write(self.reply(head))
                await writer.drain()
                if self.close_after:
                    break
        except asyncio.IncompleteReadError:
            self.closed_by_client.set()
        finally:
            writer.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


async def serve(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> tuple[asyncio.AbstractServer, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ssl_context)
    return server, server.sockets[0].getsockname()[1]


class TestRoundTrip:
    async def test_sends_method_target_headers_and_body_and_returns_the_answer(self) -> None:
        hub = Server()
        server, port = await serve(hub.handle)
        async with server, httpx.AsyncClient(transport=Http11Transport()) as client:
            response = await client.post(
                f"http://127.0.0.1:{port}/hub/messages?api-version=2020-06",
                headers={"ServiceBusNotification-Format": "template", "Content-Type": "application/json"},
                content=b'{"a":"b"}',
            )
        assert response.status_code == 201
        assert response.headers["location"] == "http://x/hub/messages/abc"
        assert hub.heads[0].startswith(b"POST /hub/messages?api-version=2020-06 HTTP/1.1\r\n")
        assert b"\r\nservicebusnotification-format: template\r\n" in hub.heads[0]
        assert hub.bodies == [b'{"a":"b"}']

    async def test_one_connection_carries_request_after_request(self) -> None:
        hub = Server()
        server, port = await serve(hub.handle)
        async with server, httpx.AsyncClient(transport=Http11Transport()) as client:
            for _ in range(3):
                assert (await client.get(f"http://127.0.0.1:{port}/")).status_code == 201
        assert hub.connections == 1

    async def test_reads_a_chunked_answer(self) -> None:
        chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        hub = Server(lambda head: chunked)
        server, port = await serve(hub.handle)
        async with server, httpx.AsyncClient(transport=Http11Transport()) as client:
            first = await client.get(f"http://127.0.0.1:{port}/")
            second = await client.get(f"http://127.0.0.1:{port}/")
        assert (first.content, second.content) == (b"abcde", b"abcde")
        assert hub.connections == 1

    async def test_reads_an_answer_that_ends_with_the_connection(self) -> None:
        hub = Server(lambda head: b"HTTP/1.1 200 OK\r\n\r\nuntil close", close_after=True)
        server, port = await serve(hub.handle)
        async with server, httpx.AsyncClient(transport=Http11Transport()) as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).content == b"until close"
            assert (await client.get(f"http://127.0.0.1:{port}/")).content == b"until close"
        assert hub.connections == 2


class TestConnectionReuse:
    async def test_a_connection_the_server_closes_is_not_reused(self) -> None:
        hub = Server(lambda head: b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", close_after=True)
        server, port = await serve(hub.handle)
        async with server, httpx.AsyncClient(transport=Http11Transport()) as client:
            for _ in range(2):
                assert (await client.delete(f"http://127.0.0.1:{port}/")).status_code == 204
        assert hub.connections == 2

    async def test_an_idle_connection_closed_by_the_server_is_replaced(self) -> None:
        hub = Server(close_after=True)
        server, port = await serve(hub.handle)
        async with server, httpx.AsyncClient(transport=Http11Transport()) as client:
            await client.get(f"http://127.0.0.1:{port}/")
            await asyncio.sleep(0.05)  # the server's FIN reaches the idle connection
            assert (await client.get(f"http://127.0.0.1:{port}/")).status_code == 201
        assert hub.connections == 2

    async def test_idle_connections_expire(self) -> None:
        hub = Server()
        server, port = await serve(hub.handle)
        async with server, httpx.AsyncClient(transport=Http11Transport(keepalive_expiry=0.0)) as client:
            await client.get(f"http://127.0.0.1:{port}/")
            await client.get(f"http://127.0.0.1:{port}/")
        assert hub.connections == 2

    async def test_aclose_closes_the_pooled_connections(self) -> None:
        hub = Server()
        server, port = await serve(hub.handle)
        async with server:
            async with httpx.AsyncClient(transport=Http11Transport()) as client:
                await client.get(f"http://127.0.0.1:{port}/")
            await asyncio.wait_for(hub.closed_by_client.wait(), 5)


class TestTls:
    async def test_talks_https_to_a_server_whose_certificate_it_trusts(self, tmp_path: Path) -> None:
        files = write_certificates(tmp_path)
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_context.load_cert_chain(files.cert_file, files.key_file)
        hub = Server()
        server, port = await serve(hub.handle, server_context)
        trusted = ssl.create_default_context(cafile=str(files.ca_file))
        async with server, httpx.AsyncClient(transport=Http11Transport(ssl_context=trusted)) as client:
            for _ in range(2):
                assert (await client.post(f"https://127.0.0.1:{port}/hub/messages", content=b"x")).status_code == 201
        assert hub.connections == 1

    async def test_an_untrusted_certificate_is_a_connect_error(self, tmp_path: Path) -> None:
        files = write_certificates(tmp_path)
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_context.load_cert_chain(files.cert_file, files.key_file)
        server, port = await serve(Server().handle, server_context)
        async with (
            server,
            httpx.AsyncClient(transport=Http11Transport(ssl_context=ssl.create_default_context())) as client,
        ):
            with pytest.raises(httpx.ConnectError):
                await client.get(f"https://127.0.0.1:{port}/")


class TestFailures:
    async def test_a_refused_connection_is_a_connect_error(self) -> None:
        async with httpx.AsyncClient(transport=Http11Transport()) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{closed_port()}/")

    async def test_a_slow_answer_is_a_read_timeout(self) -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # never answers; returns once the client gives up and closes
            writer.close()

        server, port = await serve(handler)
        async with server, httpx.AsyncClient(transport=Http11Transport(), timeout=httpx.Timeout(0.2)) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(f"http://127.0.0.1:{port}/")

    async def test_the_read_timeout_bounds_each_silence_not_the_whole_answer(self) -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
            for byte in b"slow":
                await asyncio.sleep(0.1)
                writer.write(bytes([byte]))
            await writer.drain()
            writer.close()

        server, port = await serve(handler)
        async with server, httpx.AsyncClient(transport=Http11Transport(), timeout=httpx.Timeout(0.25)) as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).content == b"slow"

    async def test_a_dropped_connection_is_a_protocol_error(self) -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.close()

        server, port = await serve(handler)
        async with server, httpx.AsyncClient(transport=Http11Transport()) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(f"http://127.0.0.1:{port}/", content=b"x")

    async def test_a_malformed_answer_is_a_protocol_error_and_its_connection_is_dropped(self) -> None:
        answers = iter([b"HTTP/1.1 OK\r\n\r\n", CREATED])
        hub = Server(lambda head: next(answers))
        server, port = await serve(hub.handle)
        async with server, httpx.AsyncClient(transport=Http11Transport()) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(f"http://127.0.0.1:{port}/")
            assert (await client.get(f"http://127.0.0.1:{port}/")).status_code == 201
        assert hub.connections == 2

    async def test_a_header_that_would_split_the_request_is_refused_before_connecting(self) -> None:
        hub = Server()
        server, port = await serve(hub.handle)
        async with server, httpx.AsyncClient(transport=Http11Transport()) as client:
            with pytest.raises(httpx.LocalProtocolError):
                await client.get(f"http://127.0.0.1:{port}/", headers={"ServiceBusNotification-Tags": "a\r\nX-Evil: 1"})
            assert (await client.get(f"http://127.0.0.1:{port}/")).status_code == 201
        assert hub.connections == 1
        assert len(hub.heads) == 1

    async def test_waiting_longer_than_the_connect_timeout_for_a_free_connection_is_a_connect_timeout(self) -> None:
        release, arrived = asyncio.Event(), asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            arrived.set()
            await release.wait()
            writer.write(CREATED)
            await writer.drain()
            writer.close()

        server, port = await serve(handler)
        timeout = httpx.Timeout(5.0, connect=0.2)
        async with server, httpx.AsyncClient(transport=Http11Transport(max_connections=1), timeout=timeout) as client:
            busy = asyncio.create_task(client.get(f"http://127.0.0.1:{port}/"))
            await asyncio.wait_for(arrived.wait(), 5)  # the one connection is taken
            with pytest.raises(httpx.ConnectTimeout):
                await client.get(f"http://127.0.0.1:{port}/")
            release.set()
            assert (await busy).status_code == 201


class TestOwnHttpClient:
    async def test_keeps_cookies_an_answer_sets_and_sends_them_back(self) -> None:
        """The cookie handling httpx gives every client, even though NH sets none."""
        answers = iter(
            [b"HTTP/1.1 200 OK\r\nSet-Cookie: affinity=abc; Path=/\r\nContent-Length: 0\r\n\r\n", CREATED, CREATED]
        )
        hub = Server(lambda head: next(answers))
        server, port = await serve(hub.handle)
        async with server, new_http_client(httpx.Timeout(5.0)) as client:
            for _ in range(3):
                await client.get(f"http://127.0.0.1:{port}/hub")
            assert dict(client.cookies) == {"affinity": "abc"}
        assert b"cookie:" not in hub.heads[0].lower()
        assert b"\r\ncookie: affinity=abc\r\n" in hub.heads[1].lower()
        assert b"\r\ncookie: affinity=abc\r\n" in hub.heads[2].lower()

    async def test_sends_through_its_own_transport_with_the_timeout_given(self) -> None:
        hub = Server()
        server, port = await serve(hub.handle)
        async with server, new_http_client(httpx.Timeout(5.0, connect=1.0)) as client:
            assert client.timeout == httpx.Timeout(5.0, connect=1.0)
            assert (await client.get(f"http://127.0.0.1:{port}/")).status_code == 201
