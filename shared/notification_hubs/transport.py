"""The NH client's httpx transport: pooled keep-alive HTTP/1.1 connections straight on asyncio.

httpx's own pool (httpcore on anyio) and aiohttp's ClientSession each cost more CPU per request than all the rest
of a send. NH requests are small with their bodies in memory, and its answers are short: a pool, one write per
request and h11 (through http11.py) for the HTTP/1.1 framing are all a send needs.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable
from typing import Any

import certifi
import h11
import httpx

from shared.notification_hubs.http11 import Answer, Http11Connection, request_head

__all__ = ["Http11Transport"]

_Origin = tuple[str, str, int]
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _default_ssl_context() -> ssl.SSLContext:
    """What httpx verifies with by default: SSL_CERT_FILE when set, else certifi's bundle."""
    cafile = os.environ.get("SSL_CERT_FILE") or certifi.where()
    return ssl.create_default_context(cafile=cafile)


class Http11Transport(httpx.AsyncBaseTransport):
    """Sends httpx requests over pooled HTTP/1.1 connections, one request at a time on each.

    Of the request's timeouts, ``connect`` bounds waiting for a free connection and then opening a new one
    (httpx.ConnectTimeout), and ``read`` bounds each silence while the answer arrives (httpx.ReadTimeout). A failed
    connection attempt is httpx.ConnectError; a dropped connection or a malformed answer is
    httpx.RemoteProtocolError. At most ``max_connections`` requests are in flight; idle connections are dropped
    after ``keepalive_expiry`` seconds.
    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        keepalive_expiry: float = 15.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._ssl = ssl_context if ssl_context is not None else _default_ssl_context()
        self._pool: _Pool | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pool = self._current_pool()
        body = await request.aread()
        head = request_head(request, body)
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        connection = await pool.checkout(request, timeouts.get("connect"))
        try:
            answer = await connection.exchange(head, body, request, timeouts.get("read"))
        except BaseException:
            connection.close()
            raise
        finally:
            pool.release_slot()
        pool.put_back(connection, answer.keep_alive)
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body, request=request)

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.aclose()

    def _current_pool(self) -> _Pool:
        # Connections belong to the event loop that opened them; a new loop starts a new pool.
        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool.loop is not loop:
            if self._pool is not None:
                self._pool.abort()
            self._pool = _Pool(loop, self._max_connections, self._keepalive_expiry, self._ssl)
        return self._pool


class _Pool:
    """Idle connections per origin, and a cap on the requests in flight, for one event loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        max_connections: int,
        keepalive_expiry: float,
        ssl_context: ssl.SSLContext,
    ) -> None:
        self.loop = loop
        self._slots = asyncio.Semaphore(max_connections)
        self._keepalive_expiry = keepalive_expiry
        self._ssl = ssl_context
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._open: set[_Connection] = set()

    async def checkout(self, request: httpx.Request, connect_timeout: float | None) -> _Connection:
        """Take a request slot and a connection to the request's origin: an idle one, else a new one."""
        await self._take_slot(request, connect_timeout)
        origin = _origin(request.url)
        connection = self._take_idle(origin)
        if connection is not None:
            return connection
        try:
            return await self._connect(origin, request, connect_timeout)
        except BaseException:
            self._slots.release()
            raise

    def release_slot(self) -> None:
        self._slots.release()

    def put_back(self, connection: _Connection, reusable: bool) -> None:
        if not reusable or not connection.is_open:
            connection.close()
            return
        connection.idle_since = self.loop.time()
        self._idle.setdefault(connection.origin, []).append(connection)

    def abort(self) -> list[asyncio.Future[None]]:
        """Drop every connection at once (TLS without its closing handshake, as aiohttp does); their closings."""
        self._idle.clear()
        if self.loop.is_closed():
            return []
        closings = [connection.closed for connection in self._open]
        for connection in list(self._open):
            connection.abort()
        return closings

    async def aclose(self) -> None:
        closings = self.abort()
        if closings:
            await asyncio.wait(closings)

    async def _take_slot(self, request: httpx.Request, connect_timeout: float | None) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns at once, without the cost of arming a timeout
            return
        try:
            async with asyncio.timeout(connect_timeout):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise httpx.ConnectTimeout("no free connection within the connect timeout", request=request) from exc

    def _take_idle(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = self.loop.time()
        while idle:
            connection = idle.pop()
            if connection.is_open and now - connection.idle_since < self._keepalive_expiry:
                return connection
            connection.close()
        return None

    async def _connect(self, origin: _Origin, request: httpx.Request, connect_timeout: float | None) -> _Connection:
        scheme, host, port = origin
        try:
            async with asyncio.timeout(connect_timeout):
                _, connection = await self.loop.create_connection(
                    lambda: _Connection(self.loop, origin, on_lost=self._open.discard),
                    host,
                    port,
                    ssl=self._ssl if scheme == "https" else None,
                    happy_eyeballs_delay=0.25,
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out", request=request) from exc
        except OSError as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError is an OSError)
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        self._open.add(connection)
        return connection


def _origin(url: httpx.URL) -> _Origin:
    if url.scheme not in _DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(f"only http:// and https:// URLs can be sent, not {url.scheme!r}")
    return url.scheme, url.host, url.port or _DEFAULT_PORTS[url.scheme]


class _Connection(asyncio.Protocol):
    """One connection to one origin, carrying one request at a time, with its own h11 state."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, origin: _Origin, on_lost: Callable[[_Connection], None]
    ) -> None:
        self.origin = origin
        self.idle_since = 0.0
        self.closed: asyncio.Future[None] = loop.create_future()
        self._loop = loop
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._http = Http11Connection()
        self._answer: asyncio.Future[Answer] | None = None
        self._read_timeout: float | None = None
        self._last_read = 0.0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    async def exchange(
        self, head: h11.Request, body: bytes, request: httpx.Request, read_timeout: float | None
    ) -> Answer:
        """Write a request and wait for its answer.

        Raises httpx.ReadTimeout, httpx.RemoteProtocolError, or httpx.LocalProtocolError if the body does not fit
        the request's framing.
        """
        if self._transport is None or self._transport.is_closing():
            raise httpx.RemoteProtocolError("the connection closed before the request was sent", request=request)
        message = self._http.send(head, body)
        self._answer = self._loop.create_future()
        self._transport.write(message)
        self._last_read = self._loop.time()
        if read_timeout is not None:
            self._read_timeout = read_timeout
            self._timer = self._loop.call_at(self._last_read + read_timeout, self._check_read_timeout)
        try:
            return await self._answer
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._answer = None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        answer = self._answer
        if answer is None or answer.done():
            self.close()  # bytes nobody asked for: the connection is out of step
            return
        self._last_read = self._loop.time()
        try:
            complete = self._http.receive(data)
        except httpx.RemoteProtocolError as exc:
            answer.set_exception(exc)
            self.close()
            return
        if complete is not None:
            answer.set_result(complete)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._on_lost(self)
        if not self.closed.done():
            self.closed.set_result(None)
        answer = self._answer
        if answer is None or answer.done():
            return
        try:
            answer.set_result(self._http.receive_eof())
        except httpx.RemoteProtocolError as error:
            if exc is not None:
                error.__cause__ = exc  # why the connection dropped says more than what h11 saw of it
            answer.set_exception(error)

    def _check_read_timeout(self) -> None:
        # Re-armed from the last read rather than on every read: a timer per received chunk would cost more.
        self._timer = None
        answer, timeout = self._answer, self._read_timeout
        if answer is None or answer.done() or timeout is None:
            return
        quiet_until = self._last_read + timeout
        if self._loop.time() < quiet_until:
            self._timer = self._loop.call_at(quiet_until, self._check_read_timeout)
            return
        answer.set_exception(httpx.ReadTimeout(f"no answer within the {timeout} s read timeout"))
        self.close()
