"""The dev host's HTTP side: function routes under the route prefix, and the host's admin endpoints."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import azure.functions as func
from azure.functions.http import HttpResponseConverter
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from local.devhost.body_limit import BodyLimit, request_body_limit
from local.devhost.functions import FunctionSpec, TriggerKind
from local.devhost.invoke import invoke
from local.devhost.routes import RouteTable
from local.devhost.worker_input import decode, http_input
from shared.domain import strict_json

__all__ = ["AdminRunner", "create_http_app", "function_routes"]

logger = logging.getLogger("local.devhost")

# name of a non-HTTP function, the "input" string of the admin request -> start it (returns at once)
AdminRunner = Callable[[str, str], Awaitable[bool]]


def function_routes(specs: list[FunctionSpec]) -> RouteTable[FunctionSpec]:
    """The route table of every HTTP function. Raises ConfigError for an invalid route template."""
    table: RouteTable[FunctionSpec] = RouteTable()
    for spec in specs:
        if spec.kind is TriggerKind.HTTP:
            table.add(str(spec.binding.get("route") or spec.name), spec.binding.get("methods"), spec)
    return table


def create_http_app(
    specs: list[FunctionSpec], *, route_prefix: str, run_admin: AdminRunner, max_body_bytes: int | None = None
) -> Starlette:
    """A Starlette app serving the functions at /{route_prefix}/... and /admin/... like the host.

    Request bodies over ``max_body_bytes`` (default: FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, see body_limit) are
    answered 413 before they are read. Raises ConfigError for an invalid route template or size limit.
    """
    limit = max_body_bytes if max_body_bytes is not None else request_body_limit(os.environ)
    table = function_routes(specs)
    prefix = "/" + route_prefix.strip("/") if route_prefix.strip("/") else ""

    async def status(_request: Request) -> Response:
        return JSONResponse({"state": "Running", "functions": [s.name for s in specs]})

    async def admin_run(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            payload = strict_json.loads(await request.body() or b"{}")
        except strict_json.UnsafeJsonError:
            return JSONResponse({"error": 'body must be JSON like {"input": ""}'}, status_code=400)
        raw_input = payload.get("input", "") if isinstance(payload, dict) else ""
        if not await run_admin(name, raw_input if isinstance(raw_input, str) else json.dumps(raw_input)):
            return Response(status_code=404)
        return Response(status_code=202)

    async def dispatch(request: Request) -> Response:
        path = _decoded_path(request)
        if prefix and not (path == prefix or path.startswith(prefix + "/")):
            return Response(status_code=404)
        relative = path[len(prefix) :]
        found = table.match(request.method, relative)
        if found is None:
            allowed = table.allowed_methods(relative)
            if allowed:
                headers = {} if "*" in allowed else {"Allow": ", ".join(sorted(allowed))}
                return Response(status_code=405, headers=headers)
            return Response(status_code=404)
        spec = found.target
        data = http_input(
            method=request.method,
            url=str(request.url),
            headers=[(key.decode("latin-1"), value.decode("latin-1")) for key, value in request.headers.raw],
            query=request.query_params.multi_items(),
            route_params=found.route_params,
            body=await request.body(),
        )
        http_request: func.HttpRequest = decode("httpTrigger", data)
        try:
            result = await invoke(spec, http_request, trigger="httpTrigger", detail=f"{request.method} {path}")
        except Exception:
            logger.exception("function %s raised; answering 500", spec.name)
            return Response(status_code=500)
        return _to_response(spec.name, result)

    async def functions_app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await dispatch(Request(scope, receive))
        await response(scope, receive, send)

    app = Starlette(
        routes=[
            Route("/admin/host/status", status, methods=["GET"]),
            Route("/admin/functions/{name}", admin_run, methods=["POST"]),
        ],
        middleware=[Middleware(BodyLimit, limit=limit)],
    )
    # Everything else goes to the functions' own route table. Not a "/{path:path}" route: Starlette's path
    # pattern stops at a line break, and the app must see such route values to refuse them itself.
    app.router.default = functions_app
    return app


def _to_response(name: str, result: Any) -> Response:
    if result is None:
        return Response(status_code=204)
    if isinstance(result, str | bytes):
        return Response(content=result, status_code=200, media_type="text/plain")
    if not isinstance(result, func.HttpResponse):
        logger.error("function %s returned %s, not an HttpResponse; answering 500", name, type(result).__name__)
        return Response(status_code=500)
    # What the worker sends back: azure.functions' own encoding (content-type filled in, Set-Cookie split out).
    encoded = HttpResponseConverter.encode(result, expected_type=None)
    value: dict[str, Any] = encoded.value
    response = Response(content=value["body"].value, status_code=int(value["status_code"].value))
    for key, header in value["headers"].items():
        response.headers.append(key, header.value)
    for cookie in value["cookies"] or []:
        for morsel in cookie.values():
            response.headers.append("set-cookie", morsel.OutputString())
    return response


_ENCODED_SLASH = re.compile("(%2F)", re.IGNORECASE)


def _decoded_path(request: Request) -> str:
    """The request path percent-decoded from the raw bytes as the Functions host (Kestrel) does it: every escape
    except ``%2F``, which stays as sent so that an encoded slash is part of a route value, not a separator.

    uvicorn's decoded path would not do: it decodes ``%2F`` and drops control characters (``a%09b`` arrives as
    ``ab``), which would hand the app a different route value than the client sent."""
    raw = request.scope.get("raw_path")
    if not raw:
        return request.url.path
    parts = _ENCODED_SLASH.split(bytes(raw).decode("ascii", errors="replace"))
    return "".join(part if index % 2 else unquote(part) for index, part in enumerate(parts))
