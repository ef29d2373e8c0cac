"""The OpenAPI paths of the decision ledger and the operator console (merged into shared.api.openapi)."""

from __future__ import annotations

from typing import Any

from shared.api.deliveries import DeliveriesParams, UserDeliveriesParams
from shared.api.openapi_parts import query_parameters

__all__ = ["ledger_paths"]

_JSON = "application/json"
_PROBLEM = "application/problem+json"
_SECURED: list[dict[str, list[str]]] = [{"easyAuth": []}, {"devUser": []}]
_PROBLEMS = {
    "400": "invalid query; `errors` lists the fields at fault",
    "401": "no identity this deployment trusts",
    "403": "the caller may not do this",
    "503": "a dependency is unavailable; retry later",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _problems(*statuses: int) -> dict[str, Any]:
    problem = {"content": {_PROBLEM: {"schema": _ref("Problem")}}}
    responses = {str(s): {"description": _PROBLEMS[str(s)], **problem} for s in statuses}
    responses["default"] = {"description": "any other error", **problem}
    return responses


def ledger_paths() -> dict[str, Any]:
    """The decision ledger and the operator console."""
    page = _json(_ref("DeliveriesPage"), "decisions, newest first")
    html = {"description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}}
    return {
        "/deliveries": {
            "get": {
                "operationId": "list_deliveries",
                "summary": "The decision ledger: who was told what, and why not (role push.admin)",
                "description": "eventId: that event's decisions. userId: that user's, with the window's broadcasts "
                "as they read for the user. Both: that user's decisions on that event. Neither: the newest "
                "decisions of every kind (the console's feed).",
                "security": _SECURED,
                "parameters": query_parameters(DeliveriesParams),
                "responses": {"200": page, **_problems(400, 401, 403, 503)},
            }
        },
        "/me/deliveries": {
            "get": {
                "operationId": "list_my_deliveries",
                "summary": "The caller's own decisions: what they were told, and why not",
                "security": _SECURED,
                "parameters": query_parameters(UserDeliveriesParams),
                "responses": {"200": page, **_problems(400, 401, 503)},
            }
        },
        "/console": {
            "get": {
                "operationId": "operator_console",
                "summary": "The operator console page (role push.admin)",
                "security": _SECURED,
                "responses": {"200": html, **_problems(401, 403)},
            }
        },
        "/console/assets/{name}": {
            "get": {
                "operationId": "operator_console_asset",
                "summary": "A static file of the console page (its script, stylesheet, Chart.js)",
                "security": [],
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "the file", "content": {"text/javascript": {}, "text/css": {}}},
                    "404": {"description": "no such file", "content": {_PROBLEM: {"schema": _ref("Problem")}}},
                },
            }
        },
        "/console/signin": {
            "get": {
                "operationId": "operator_console_signin",
                "summary": "Dev mode only (AUTH_MODE=dev): a form that sets the dev identity cookies; 404 otherwise",
                "security": [],
                "responses": {
                    "200": html,
                    "404": {"description": "Easy Auth mode", "content": {_PROBLEM: {"schema": _ref("Problem")}}},
                },
            }
        },
        "/console/summary": {
            "get": {
                "operationId": "operator_console_summary",
                "summary": "Recent decisions and the last hour of this instance's metrics (role push.admin)",
                "security": _SECURED,
                "responses": {
                    "200": _json({"type": "object"}, "recent decisions, metrics"),
                    **_problems(401, 403, 503),
                },
            }
        },
    }
