"""The OpenAPI paths of the real-time routes (negotiate and the inbox), each with its CORS preflight."""

from __future__ import annotations

from typing import Any

from shared.api.openapi_parts import _SECURED, _json, _problems, _ref, query_parameters
from shared.api.realtime_schemas import InboxQuery

__all__ = ["realtime_paths"]

_NOTIFICATION_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_INBOX_UPDATE_ERRORS = (401, 404, 503)
# The real-time routes; a browser app calls them cross-origin (CORS preflights answered for PUSH_CORS_ORIGINS).
_PATHS: dict[str, Any] = {
    "/negotiate": {
        "post": {
            "operationId": "negotiate",
            "summary": "SignalR connection info (hub notifications) for the caller's own user id",
            "security": _SECURED,
            "responses": {"200": _json(_ref("NegotiateResponse"), "url and access token"), **_problems(401, 503)},
        }
    },
    "/me/notifications": {
        "get": {
            "operationId": "list_my_notifications",
            "summary": "The caller's notification inbox, newest first, paged (kept 30 days)",
            "security": _SECURED,
            "parameters": query_parameters(InboxQuery),
            "responses": {"200": _json(_ref("InboxPageResponse"), "one page"), **_problems(400, 401, 503)},
        }
    },
    "/me/notifications/{id}/seen": {
        "post": {
            "operationId": "mark_notification_seen",
            "summary": "The app showed it: no push fallback follows if it was still pending",
            "security": _SECURED,
            "parameters": [_NOTIFICATION_ID],
            "responses": {"200": _json(_ref("InboxItem"), "the notification"), **_problems(*_INBOX_UPDATE_ERRORS)},
        }
    },
    "/me/notifications/{id}/read": {
        "post": {
            "operationId": "mark_notification_read",
            "summary": "The user opened it (implies seen)",
            "security": _SECURED,
            "parameters": [_NOTIFICATION_ID],
            "responses": {"200": _json(_ref("InboxItem"), "the notification"), **_problems(*_INBOX_UPDATE_ERRORS)},
        }
    },
}


def realtime_paths() -> dict[str, Any]:
    """Every real-time path, its operation plus an ``options`` operation for the browser's preflight."""
    paths: dict[str, Any] = {}
    for path, item in _PATHS.items():
        (operation,) = item.values()
        preflight = {
            "operationId": f"{operation['operationId']}_preflight",
            "summary": "CORS preflight: answered with CORS headers for an origin in PUSH_CORS_ORIGINS only",
            "security": [],
            "responses": {"204": {"description": "no body"}},
        }
        in_path = [parameter for parameter in operation.get("parameters", []) if parameter.get("in") == "path"]
        if in_path:
            preflight["parameters"] = in_path  # the path's own parameters are declared per operation
        paths[path] = {**item, "options": preflight}
    return paths
