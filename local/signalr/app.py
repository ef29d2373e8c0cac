"""The stand-in's ASGI application: client endpoints under /client, the REST API under /api, its own under /_signalr.

Faults and CORS sit in front of the routes, where a request can still be answered before any route runs.
"""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Message, Receive, Scope, Send

from local.signalr.client import client_socket, negotiate
from local.signalr.config import StandInConfig
from local.signalr.context import StandIn, error
from local.signalr.faults import FaultInjector, surface_of
from local.signalr.hub import HubState
from local.signalr.local_routes import local_routes
from local.signalr.rest import rest_routes

__all__ = ["StandInApp", "create_app"]


class StandInApp(Starlette):
    stand_in: StandIn

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            surface = surface_of(scope["path"])
            rule = self.stand_in.faults.pick({"*", surface}) if surface else None
            if rule is not None:
                if rule.latency:
                    await asyncio.sleep(rule.latency)
                if rule.status is not None:
                    await _refuse(scope, receive, send, rule.status)
                    return
            if scope["type"] == "http" and surface == "client":
                await self._with_cors(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _with_cors(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Browsers call negotiate cross-origin with credentials and custom headers: echo an allowed origin."""
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        origins = self.stand_in.config.cors_origins
        allowed = origin is not None and ("*" in origins or origin in origins)
        cors = (
            {
                "Access-Control-Allow-Origin": origin or "",
                "Access-Control-Allow-Credentials": "true",
                "Vary": "Origin",
            }
            if allowed
            else {}
        )
        if scope["method"] == "OPTIONS" and headers.get("access-control-request-method"):
            preflight = dict(cors)
            if allowed:
                preflight["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                preflight["Access-Control-Allow-Headers"] = headers.get("access-control-request-headers", "")
                preflight["Access-Control-Max-Age"] = "600"
            await Response(status_code=204 if allowed else 403, headers=preflight)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and cors:
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.lower().encode(), v.encode()) for k, v in cors.items()),
                ]
            await send(message)

        await super().__call__(scope, receive, send_with_cors)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int) -> None:
    response = error(status, "injected fault: the service is unavailable")
    if scope["type"] == "websocket":
        await send({"type": "websocket.http.response.start", "status": status, "headers": response.raw_headers})
        await send({"type": "websocket.http.response.body", "body": response.body})
        return
    await response(scope, receive, send)


def create_app(config: StandInConfig | None = None) -> StandInApp:
    config = config or StandInConfig()
    app = StandInApp(
        routes=[
            Route("/client/negotiate", negotiate, methods=["POST"]),
            WebSocketRoute("/client/", client_socket),
            WebSocketRoute("/client", client_socket),
            *rest_routes(),
            *local_routes(),
        ]
    )
    app.stand_in = StandIn(
        config=config,
        state=HubState(negotiate_ttl=config.negotiate_ttl, max_logged=config.max_logged_messages),
        faults=FaultInjector(),
    )
    app.state.stand_in = app.stand_in
    return app
