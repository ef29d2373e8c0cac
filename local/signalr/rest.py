"""The data-plane REST API, version 2022-06-01 (and the later versions' same paths): sends, presence, groups."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from local.signalr.context import HUB_NAME, StandIn, error, stand_in_of
from local.signalr.hub import Connection, HubState
from local.signalr.tokens import TokenError, bearer_token, client_token, verify_rest_token

__all__ = ["API_VERSIONS", "rest_routes"]

API_VERSIONS = frozenset({"2021-10-01", "2022-06-01", "2022-11-01", "2023-07-01", "2024-01-01", "2024-12-01"})
MAX_BODY_BYTES = 1024 * 1024

Endpoint = Callable[[Request, StandIn, str], Awaitable[Response]]
Recipients = Callable[[HubState, str, str | None], list[Connection]]


def _guarded(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """Check api-version, hub name and the bearer token, then call ``endpoint(request, stand_in, hub)``."""

    async def checked(request: Request) -> Response:
        stand_in = stand_in_of(request)
        version = request.query_params.get("api-version")
        if version not in API_VERSIONS:
            return error(400, f"api-version must be one of {sorted(API_VERSIONS)}")
        hub = request.path_params["hub"]
        if not HUB_NAME.fullmatch(hub):
            return error(400, f"{hub!r} is not a valid hub name")
        try:
            verify_rest_token(
                bearer_token({k.lower(): v for k, v in request.headers.items()}),
                stand_in.config.access_key,
                scheme=request.url.scheme,
                host=request.url.hostname or "",
                path=request.url.path,
                leeway=stand_in.config.token_leeway,
            )
        except TokenError as exc:
            return error(401, str(exc))
        return await endpoint(request, stand_in, hub.lower())

    return checked


async def _payload(request: Request) -> tuple[str, list[Any]] | Response:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return error(413, "the message is larger than 1 MB")
    try:
        document = json.loads(body or b"null")
    except ValueError:
        return error(400, "the body is not JSON")
    target = document.get("target") if isinstance(document, dict) else None
    arguments = document.get("arguments", []) if isinstance(document, dict) else None
    if not isinstance(target, str) or not target or not isinstance(arguments, list):
        return error(400, 'expected {"target": "<method>", "arguments": [...]}')
    return target, arguments


def _accepted() -> Response:
    return Response(status_code=202)


def _found(found: bool) -> Response:
    return Response(status_code=200 if found else 404)


def _every_connection(state: HubState, hub: str, _name: str | None) -> list[Connection]:
    return state.open_connections(hub)


def _one_connection(state: HubState, hub: str, connection_id: str | None) -> list[Connection]:
    found = state.connection(hub, connection_id or "")
    return [found] if found else []


def _user_connections(state: HubState, hub: str, user: str | None) -> list[Connection]:
    return state.user_connections(hub, user or "")


def _group_connections(state: HubState, hub: str, group: str | None) -> list[Connection]:
    return state.group_connections(hub, group or "")


def _sender(scope: str, recipients: Recipients) -> Endpoint:
    """POST .../:send for ``scope`` (all, user, group, connection): the recipients are named by the path parameter
    of the same name (none for all)."""

    async def send(request: Request, stand_in: StandIn, hub: str) -> Response:
        payload = await _payload(request)
        if isinstance(payload, Response):
            return payload
        name = request.path_params.get(scope)
        stand_in.state.send(hub, scope, name, recipients(stand_in.state, hub, name), *payload)
        return _accepted()

    return send


async def user_exists(request: Request, stand_in: StandIn, hub: str) -> Response:
    return _found(bool(stand_in.state.user_connections(hub, request.path_params["user"])))


async def connection_exists(request: Request, stand_in: StandIn, hub: str) -> Response:
    return _found(stand_in.state.connection(hub, request.path_params["connection"]) is not None)


async def group_exists(request: Request, stand_in: StandIn, hub: str) -> Response:
    return _found(bool(stand_in.state.group_connections(hub, request.path_params["group"])))


async def close_connection(request: Request, stand_in: StandIn, hub: str) -> Response:
    found = stand_in.state.connection(hub, request.path_params["connection"])
    if found is not None:
        found.close(request.query_params.get("reason") or None)
    return Response(status_code=200)


async def close_user_connections(request: Request, stand_in: StandIn, hub: str) -> Response:
    for connection in stand_in.state.user_connections(hub, request.path_params["user"]):
        connection.close(request.query_params.get("reason") or None)
    return Response(status_code=204)


async def user_group(request: Request, stand_in: StandIn, hub: str) -> Response:
    user, group = request.path_params["user"], request.path_params["group"]
    if request.method == "HEAD":
        return _found(stand_in.state.user_in_group(hub, user, group))
    if request.method == "DELETE":
        stand_in.state.remove_user_from_group(hub, user, group)
        return Response(status_code=204)
    raw_ttl = request.query_params.get("ttl")
    try:
        ttl = None if raw_ttl is None else float(raw_ttl)
    except ValueError:
        return error(400, "ttl must be a number of seconds")
    stand_in.state.add_user_to_group(hub, user, group, ttl)
    return Response(status_code=200)


async def user_all_groups(request: Request, stand_in: StandIn, hub: str) -> Response:
    stand_in.state.remove_user_from_all_groups(hub, request.path_params["user"])
    return Response(status_code=204)


async def connection_group(request: Request, stand_in: StandIn, hub: str) -> Response:
    found = stand_in.state.connection(hub, request.path_params["connection"])
    if found is None:
        return error(404, "no such connection")
    group = request.path_params["group"]
    if request.method == "DELETE":
        return _found(stand_in.state.remove_connection_from_group(found, group))
    stand_in.state.add_connection_to_group(found, group)
    return Response(status_code=200)


async def generate_token(request: Request, stand_in: StandIn, hub: str) -> Response:
    """POST :generateToken?userId=&minutesToExpire= (2023-07-01 and later): a client token the service signs."""
    if str(request.query_params.get("api-version")) < "2023-07-01":
        return error(404, ":generateToken needs api-version 2023-07-01 or later")
    try:
        minutes = int(request.query_params.get("minutesToExpire", "60"))
    except ValueError:
        return error(400, "minutesToExpire must be a whole number")
    if not 1 <= minutes <= 1440:
        return error(400, "minutesToExpire must be between 1 and 1440")
    token = client_token(
        stand_in.config.access_key,
        scheme=request.url.scheme,
        host=request.url.hostname or "",
        hub=hub,
        user_id=request.query_params.get("userId"),
        lifetime=60 * minutes,
    )
    return JSONResponse({"token": token})


async def health(_request: Request) -> Response:
    return Response(status_code=200)


def rest_routes() -> list[Route]:
    base = "/api/hubs/{hub}"
    return [
        Route("/api/health", health, methods=["GET", "HEAD"]),
        Route(f"{base}/:send", _guarded(_sender("all", _every_connection)), methods=["POST"]),
        Route(f"{base}/:generateToken", _guarded(generate_token), methods=["POST"]),
        Route(f"{base}/users/{{user}}/:send", _guarded(_sender("user", _user_connections)), methods=["POST"]),
        Route(f"{base}/users/{{user}}/:closeConnections", _guarded(close_user_connections), methods=["POST"]),
        Route(f"{base}/users/{{user}}", _guarded(user_exists), methods=["HEAD"]),
        Route(f"{base}/users/{{user}}/groups", _guarded(user_all_groups), methods=["DELETE"]),
        Route(f"{base}/users/{{user}}/groups/{{group}}", _guarded(user_group), methods=["PUT", "DELETE", "HEAD"]),
        Route(f"{base}/groups/{{group}}/:send", _guarded(_sender("group", _group_connections)), methods=["POST"]),
        Route(f"{base}/groups/{{group}}", _guarded(group_exists), methods=["HEAD"]),
        Route(
            f"{base}/groups/{{group}}/connections/{{connection}}",
            _guarded(connection_group),
            methods=["PUT", "DELETE"],
        ),
        Route(
            f"{base}/connections/{{connection}}/:send",
            _guarded(_sender("connection", _one_connection)),
            methods=["POST"],
        ),
        Route(f"{base}/connections/{{connection}}", _guarded(connection_exists), methods=["HEAD"]),
        Route(f"{base}/connections/{{connection}}", _guarded(close_connection), methods=["DELETE"]),
    ]
