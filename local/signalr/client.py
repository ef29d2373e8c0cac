"""The client side: negotiate, then a WebSocket speaking the JSON hub protocol (handshake, pings, close).

Only the WebSockets transport is offered, as negotiate is allowed to do; every official client supports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from local.signalr.context import HUB_NAME, error, stand_in_of
from local.signalr.hub import RECORD_SEPARATOR, Connection, frame, is_close
from local.signalr.tokens import TokenError, bearer_token, user_id_of, verify_client_token

__all__ = ["client_socket", "negotiate"]

logger = logging.getLogger(__name__)

_PING = frame({"type": 6})


async def negotiate(request: Request) -> Response:
    """POST /client/negotiate?hub=…&negotiateVersion=1 with the app's access token."""
    stand_in = stand_in_of(request)
    hub = request.query_params.get("hub", "")
    if not HUB_NAME.fullmatch(hub):
        return error(400, "the hub query parameter is missing or not a valid hub name")
    try:
        token = bearer_token({k.lower(): v for k, v in request.headers.items()}, dict(request.query_params))
        claims = verify_client_token(
            token,
            stand_in.config.access_key,
            scheme=request.url.scheme,
            host=request.url.hostname or "",
            hub=hub,
            leeway=stand_in.config.token_leeway,
        )
    except TokenError as exc:
        return error(401, str(exc))
    connection = stand_in.state.negotiate(hub, user_id_of(claims))
    version = 1 if request.query_params.get("negotiateVersion", "0") != "0" else 0
    body: dict[str, Any] = {
        "negotiateVersion": version,
        "connectionId": connection.connection_id,
        "availableTransports": [{"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}],
    }
    if version >= 1:
        body["connectionToken"] = connection.connection_token
    return JSONResponse(body)


async def client_socket(websocket: WebSocket) -> None:
    """GET /client/?hub=…&id=<connectionToken>[&access_token=…] upgraded to a WebSocket."""
    stand_in = stand_in_of(websocket)
    config = stand_in.config
    query = dict(websocket.query_params)
    hub = query.get("hub", "")
    try:
        token = bearer_token({k.lower(): v for k, v in websocket.headers.items()}, query)
        claims = verify_client_token(
            token,
            config.access_key,
            scheme="https" if websocket.url.scheme == "wss" else "http",
            host=websocket.url.hostname or "",
            hub=hub,
            leeway=config.token_leeway,
        )
    except TokenError as exc:
        await websocket.send_denial_response(error(401, str(exc)))
        return
    connection = stand_in.state.open(query.get("id", ""))
    if connection is None or connection.hub != hub.lower() or connection.user_id != user_id_of(claims):
        if connection is not None:
            stand_in.state.drop(connection)
        await websocket.send_denial_response(error(404, "no such connection; negotiate first"))
        return
    await websocket.accept()
    try:
        if await _handshake(websocket, config.handshake_timeout):
            await _serve(websocket, connection, config.ping_interval, config.client_timeout)
    except WebSocketDisconnect:
        pass
    finally:
        stand_in.state.drop(connection)
        with contextlib.suppress(Exception):
            await websocket.close()


async def _handshake(websocket: WebSocket, within: float) -> bool:
    """Read ``{"protocol":"json","version":1}``; answer ``{}`` or an error. False when the connection must end."""
    try:
        text = await asyncio.wait_for(_receive_text(websocket), within)
    except TimeoutError:
        await websocket.send_text(frame({"error": "Handshake was canceled: no handshake request within the timeout."}))
        return False
    request, _, _rest = text.partition(RECORD_SEPARATOR)
    try:
        handshake = json.loads(request)
    except ValueError:
        handshake = None
    if not isinstance(handshake, dict) or handshake.get("protocol") != "json" or handshake.get("version") != 1:
        await websocket.send_text(frame({"error": "The server does not support this protocol: use json version 1."}))
        return False
    await websocket.send_text(frame({}))
    return True


async def _receive_text(websocket: WebSocket) -> str:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    if message.get("text") is not None:
        return str(message["text"])
    return bytes(message.get("bytes") or b"").decode("utf-8", errors="replace")


async def _serve(websocket: WebSocket, connection: Connection, ping_interval: float, client_timeout: float) -> None:
    """Send what the hub queues and a ping every ``ping_interval``; read the client's pings, invocations, close."""
    last_heard = time.monotonic()

    async def read() -> None:
        nonlocal last_heard
        while True:
            text = await _receive_text(websocket)
            last_heard = time.monotonic()
            for part in text.split(RECORD_SEPARATOR):
                if not part.strip():
                    continue
                try:
                    message = json.loads(part)
                except ValueError:
                    connection.close("Connection closed with an error: invalid JSON hub protocol message.")
                    return
                kind = message.get("type") if isinstance(message, dict) else None
                if kind == 7:
                    connection.close(None)
                    return
                if kind in (1, 4) and message.get("invocationId"):
                    # Serverless mode with no upstream: nobody on the server side can answer an invocation.
                    connection.push(
                        frame({"type": 3, "invocationId": message["invocationId"], "error": "No upstream is set."})
                    )

    async def write() -> None:
        while True:
            try:
                item = await asyncio.wait_for(connection.outbox.get(), ping_interval)
            except TimeoutError:
                if time.monotonic() - last_heard > client_timeout:
                    await websocket.send_text(frame({"type": 7, "error": "Connection timed out: no message."}))
                    return
                await websocket.send_text(_PING)
                continue
            closing, reason = is_close(item)
            if closing:
                close: dict[str, Any] = {"type": 7} if reason is None else {"type": 7, "error": reason}
                await websocket.send_text(frame(close))
                return
            await websocket.send_text(str(item))

    reader, writer = asyncio.create_task(read()), asyncio.create_task(write())
    done, pending = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
    if reader in done and writer not in done and reader.exception() is None:
        # The client asked to close (or broke the protocol): flush the close message the reader queued.
        with contextlib.suppress(TimeoutError, Exception):
            await asyncio.wait_for(writer, 1.0)
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    for task in done:
        if task.exception() is not None and not isinstance(task.exception(), WebSocketDisconnect):
            logger.warning("connection %s ended with %r", connection.connection_id, task.exception())
