"""Pieces every part of the OpenAPI document uses: schema references, JSON bodies, problem responses, security."""

from __future__ import annotations

from typing import Any

__all__ = ["_JSON", "_PROBLEM", "_REF", "_SECURED", "_json", "_problems", "_ref"]

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
