"""Pieces every part of the OpenAPI document uses: schema references, JSON bodies, problem responses, security."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

__all__ = ["_JSON", "_PROBLEM", "_REF", "_SECURED", "_json", "_problems", "_ref", "query_parameters"]

_REF = "#/components/schemas/{model}"
_JSON = "application/json"
_PROBLEM = "application/problem+json"

_SECURED: list[dict[str, list[str]]] = [{"easyAuth": []}, {"devUser": []}]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _problems(*statuses: int) -> dict[str, Any]:
    problem = {"content": {_PROBLEM: {"schema": _ref("Problem")}}}
    described = {
        "400": "invalid request; `errors` lists the fields at fault",
        "401": "no identity this deployment trusts",
        "403": "the caller may not do this",
        "404": "not found",
        "409": "the Idempotency-Key was used with another request, or a concurrent change won",
        "413": "body too large",
        "415": "body is not JSON",
        "502": "a dependency refused the request",
        "503": "a dependency is unavailable; retry later",
    }
    responses = {str(s): {"description": described[str(s)], **problem} for s in statuses}
    responses["default"] = {"description": "any other error", **problem}
    return responses


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The query parameters of a route, from the model that validates its query string (each field's own schema, so
    the document states every constraint the model checks)."""
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", ()))
    parameters: list[dict[str, Any]] = []
    for name, field_schema in schema["properties"].items():
        described = dict(field_schema)
        described.pop("title", None)
        if described.get("default", 0) is None:
            del described["default"]  # left out means no value
        description = described.pop("description", None)
        # An optional field is nullable in pydantic's schema; a query string can only leave it out.
        variants = [v for v in described.pop("anyOf", [described]) if v.get("type") != "null"]
        [only] = variants
        parameter = {"name": name, "in": "query", "required": name in required, "schema": {**described, **only}}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters
