"""The dev host's request size limit, refused with 413 before a body is read in full.

The Functions host limits request bodies with the app setting FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (bytes; 100 MB
when unset). The dev host reads the same setting. When it is unset the dev host uses this project's value,
1 MiB: the largest body any route accepts is a 256 KiB CloudEvent (a Service Bus Standard message) and the JSON
routes take 16 KiB, so 1 MiB leaves every route's own, more specific 413 reachable while no request can make the
host hold more than 1 MiB (100 MB would let 64 concurrent requests hold 6.4 GB on a laptop or a Flex instance).

A declared Content-Length over the limit is answered at once, without reading the body. A body without a length
(chunked) is read up to the limit and answered as soon as it goes over; the rest is never read and the
connection is closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.api.http import PayloadTooLargeError, problem_response
from shared.domain.errors import ConfigError

__all__ = ["DEFAULT_BODY_LIMIT", "SETTING", "BodyLimit", "request_body_limit"]

SETTING: Final = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"
DEFAULT_BODY_LIMIT: Final = 1024 * 1024


def request_body_limit(environ: Mapping[str, str]) -> int:
    """The limit in bytes from FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, else DEFAULT_BODY_LIMIT. Raises ConfigError."""
    value = environ.get(SETTING, "").strip()
    if not value:
        return DEFAULT_BODY_LIMIT
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{SETTING} must be a positive number of bytes, not {value[:20]!r}")
    return int(value)


class BodyLimit:
    """ASGI middleware: the app sees a request only once its whole body is known to fit in ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away; there is nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _refuse(self, send: Send) -> None:
        detail = f"the request body is larger than {self.limit} bytes ({SETTING})"
        response = problem_response(PayloadTooLargeError(detail))
        headers = [(b"content-type", b"application/problem+json"), (b"connection", b"close")]
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that hands the app the buffered body once, then waits on the real one (disconnect)."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
