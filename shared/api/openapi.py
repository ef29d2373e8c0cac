"""The OpenAPI 3.1 document served at GET /api/openapi.json, generated from the operations table and the pydantic
models that validate each request and render each response.

Run ``python -m shared.api.openapi > docs/openapi.json`` after changing a route or a model (a unit test compares).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.api.campaign_openapi import campaign_paths, campaign_schemas
from shared.api.deliveries import DecisionView, DeliveriesPage
from shared.api.openapi_ledger import ledger_paths
from shared.api.openapi_orders import ORDER_MODELS, order_paths
from shared.api.openapi_realtime import realtime_paths
from shared.api.operations import OPERATIONS, Body, Operation
from shared.api.realtime_schemas import InboxItem, InboxPageResponse, NegotiateResponse
from shared.api.schemas import Problem, cloud_event_schemas
from shared.domain.strict_json import MAX_DEPTH

__all__ = ["openapi_document"]

_REF: Final = "#/components/schemas/{model}"
_PROBLEM: Final = "application/problem+json"

_PROBLEM_DESCRIPTIONS: Final = {
    400: "invalid request; `errors` lists the fields at fault",
    401: "no identity this deployment trusts",
    403: "the caller may not do this",
    404: "not found, or not the caller's",
    413: "body too large",
    415: "body is not JSON (Content-Type)",
    500: "the app is misconfigured or failed unexpectedly; nothing internal is shown",
    502: "a dependency refused the request",
    503: "a dependency is unavailable; retry later (Retry-After when known)",
}

_DESCRIPTION: Final = f"""\
Device registration, preferences, LoB event intake and operator tools.

Every error is `application/problem+json` (RFC 9457). Request bodies are UTF-8 JSON (RFC 8259) read strictly: \
an object naming a member twice, nesting deeper than {MAX_DEPTH} levels, `NaN`/`Infinity`, a number beyond \
the range of a double, or a lone surrogate escape is refused with 400 like any other invalid body. Sizes are \
limited per route (413); the host refuses larger bodies before reading them.

Sign-in: in Azure, App Service Authentication (Entra ID) authenticates the caller in front of the app. Locally, \
with AUTH_MODE=dev only, `X-Dev-User` names the caller and `X-Dev-Roles` (comma-separated) grants roles. The \
roles an operation needs are listed in its security requirement."""

_SECURITY_SCHEMES: Final = {
    "easyAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "Entra ID token; App Service Authentication validates it in front of the app",
    },
    "devUser": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Dev-User",
        "description": "local dev mode only (AUTH_MODE=dev); X-Dev-Roles adds roles",
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _security(roles: tuple[str, ...] | None) -> list[dict[str, list[str]]]:
    if roles is None:
        return []
    return [{name: list(roles)} for name in _SECURITY_SCHEMES]


def _request_body(body: Body) -> dict[str, Any]:
    schema = _ref(body.schema if isinstance(body.schema, str) else body.schema.__name__)
    return {
        "required": True,
        "description": f"at most {body.max_bytes} bytes",
        "content": {media_type: {"schema": schema} for media_type in body.media_types},
    }


def _responses(operation: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for reply in operation.replies:
        answer: dict[str, Any] = {"description": reply.description}
        if reply.status != 204:
            schema = _ref(reply.model.__name__) if reply.model else {"type": "object"}
            answer["content"] = {reply.media_type: {"schema": schema}}
        if reply.links:
            answer["links"] = reply.links
        responses[str(reply.status)] = answer
    for status in operation.problems:
        responses[str(status)] = {"$ref": f"#/components/responses/Problem{status}"}
    return dict(sorted(responses.items()))


def _problem_responses() -> dict[str, Any]:
    """One reusable problem+json response per error status."""
    responses: dict[str, Any] = {}
    for status, description in _PROBLEM_DESCRIPTIONS.items():
        response: dict[str, Any] = {
            "description": description,
            "content": {_PROBLEM: {"schema": _ref(Problem.__name__)}},
        }
        if status == 503:
            response["headers"] = {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}}
        responses[f"Problem{status}"] = response
    return responses


def _operation(operation: Operation) -> dict[str, Any]:
    described: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "security": _security(operation.roles),
    }
    if operation.parameters:
        described["parameters"] = list(operation.parameters)
    if operation.body:
        described["requestBody"] = _request_body(operation.body)
    described["responses"] = _responses(operation)
    return described


# Models of the feature routes described in their own modules (ledger, orders, real-time), beside OPERATIONS.
_FEATURE_MODELS: Final[tuple[type[BaseModel], ...]] = (
    DecisionView,
    DeliveriesPage,
    NegotiateResponse,
    InboxItem,
    InboxPageResponse,
    *ORDER_MODELS,
)


def _feature_paths() -> dict[str, dict[str, Any]]:
    """The paths of the routes whose descriptions live with their feature (the decision ledger, orders, in-app
    delivery and its inbox, campaigns); OPERATIONS describes the rest."""
    merged: dict[str, dict[str, Any]] = {}
    for described in (ledger_paths(), order_paths(), realtime_paths(), campaign_paths()):
        for path, methods in described.items():
            merged.setdefault(path, {}).update(methods)
    return merged


def _component_schemas() -> dict[str, Any]:
    requests = {op.body.schema for op in OPERATIONS if op.body and not isinstance(op.body.schema, str)}
    responses = {reply.model for op in OPERATIONS for reply in op.replies if reply.model}
    models: list[tuple[type[BaseModel], Any]] = [
        *((model, "validation") for model in sorted(requests, key=lambda m: m.__name__)),
        *((model, "serialization") for model in sorted(responses | {Problem}, key=lambda m: m.__name__)),
        *((model, "validation") for model in _FEATURE_MODELS if model not in requests | responses),
    ]
    _, definitions = models_json_schema(models, by_alias=True, ref_template=_REF)
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    schemas.update(cloud_event_schemas(_REF))
    schemas.update(campaign_schemas())
    return dict(sorted(schemas.items()))


@cache
def openapi_document() -> dict[str, Any]:
    """The API description served at GET /api/openapi.json."""
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation)
    for path, methods in _feature_paths().items():
        paths.setdefault(path, {}).update(methods)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Enterprise Push API", "version": "1.0.0", "description": _DESCRIPTION},
        "servers": [{"url": "/api"}],
        "paths": paths,
        "components": {
            "schemas": _component_schemas(),
            "responses": _problem_responses(),
            "securitySchemes": _SECURITY_SCHEMES,
        },
    }


if __name__ == "__main__":
    import json

    print(json.dumps(openapi_document(), indent=2, ensure_ascii=False))
