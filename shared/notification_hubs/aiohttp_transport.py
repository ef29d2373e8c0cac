"""An httpx transport over aiohttp: httpx's API and MockTransport seam, aiohttp's faster connection pool.

httpx's own async pool (httpcore on anyio) costs more CPU per request than the request itself against a fast
target (see docs/benchmarks.md); aiohttp, already installed for the Azure SDKs' async clients, parses HTTP in C.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

import aiohttp
import certifi
import httpx

__all__ = ["AiohttpTransport"]


def _timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    timeouts: dict[str, Any] = request.extensions.get("timeout", {})
    return aiohttp.ClientTimeout(
        total=None,
        connect=timeouts.get("connect"),
        sock_read=timeouts.get("read"),
        sock_connect=timeouts.get("connect"),
    )


def _default_ssl_context() -> ssl.SSLContext:
    """What httpx verifies with by default: SSL_CERT_FILE when set, else certifi's bundle."""
    cafile = os.environ.get("SSL_CERT_FILE") or certifi.where()
    return ssl.create_default_context(cafile=cafile)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests with one aiohttp.ClientSession, created on first use in the running event loop.

    aiohttp errors become the httpx exceptions callers already handle: timeouts as httpx.ReadTimeout /
    httpx.ConnectTimeout, connection failures as httpx.ConnectError / httpx.RemoteProtocolError.
    """

    def __init__(self, *, max_connections: int = 100, ssl_context: ssl.SSLContext | None = None) -> None:
        self._max_connections = max_connections
        self._ssl = ssl_context if ssl_context is not None else _default_ssl_context()
        self._session: aiohttp.ClientSession | None = None

    def _client_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl)
            # No cookies, no automatic decompression surprises: NH answers are small and uncompressed.
            self._session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._client_session()
        body = await request.aread()
        try:
            async with session.request(
                request.method,
                str(request.url),
                headers=list(request.headers.multi_items()),
                data=body or None,
                timeout=_timeout(request),
                allow_redirects=False,
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Content-Type"),
            ) as response:
                content = await response.read()
                return httpx.Response(
                    status_code=response.status,
                    headers=list(response.raw_headers),
                    content=content,
                    request=request,
                )
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
            raise httpx.RemoteProtocolError(str(exc) or "connection dropped", request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.NetworkError(str(exc), request=request) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
