"""HTTP plumbing without azure.functions: requests and responses as plain data, JSON bodies, problem+json errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.domain import strict_json
from shared.domain.errors import (
    AuthenticationRequiredError,
    ConfigError,
    ConflictError,
    FieldError,
    ForbiddenError,
    NotFoundError,
    PushError,
    UpstreamError,
    UpstreamUnavailableError,
    ValidationError,
)

__all__ = [
    "MAX_JSON_BODY_BYTES",
    "ApiRequest",
    "ApiResponse",
    "PayloadTooLargeError",
    "UnsupportedMediaTypeError",
    "json_response",
    "parse_json_object",
    "problem_response",
]

logger = logging.getLogger(__name__)

MAX_JSON_BODY_BYTES = 16 * 1024
PROBLEM_BASE = "https://enterprise-push.dev/problems/"


class UnsupportedMediaTypeError(ValidationError):
    """The body is not JSON."""


class PayloadTooLargeError(ValidationError):
    """The body is larger than the route accepts."""


@dataclass(frozen=True)
class ApiRequest:
    """An HTTP request as the services see it; header names are lower-case."""

    method: str
    route_params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> ApiResponse:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    return ApiResponse(status, body, "application/json; charset=utf-8", dict(headers or {}))


def parse_json_object(request: ApiRequest, max_bytes: int = MAX_JSON_BODY_BYTES) -> dict[str, Any]:
    """The body as a JSON object; raises UnsupportedMediaTypeError, PayloadTooLargeError or ValidationError.

    The body is read with ``strict_json``: duplicate member names, deep nesting, numbers out of range, bytes that
    are not UTF-8 and lone surrogates are a ValidationError, never an exception the route does not expect.
    Numbers with a fraction or exponent become Decimal, so a model sees every digit the client sent.
    """
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json" and not (
        content_type.startswith("application/") and content_type.endswith("+json")
    ):
        raise UnsupportedMediaTypeError(
            "send the body as JSON with Content-Type: application/json",
            [FieldError("header:Content-Type", f"expected application/json, got {content_type or 'nothing'!r}")],
        )
    if len(request.body) > max_bytes:
        raise PayloadTooLargeError(f"the body is larger than {max_bytes} bytes")
    try:
        payload = strict_json.loads(request.body, decimal_numbers=True)
    except strict_json.UnsafeJsonError as exc:
        raise ValidationError("the body is not valid UTF-8 JSON", [FieldError("body", str(exc))]) from None
    if not isinstance(payload, dict):
        raise ValidationError("the body must be a JSON object", [FieldError("body", "expected an object")])
    return payload


_STATUS: tuple[tuple[type[PushError], int, str], ...] = (
    (UnsupportedMediaTypeError, 415, "unsupported-media-type"),
    (PayloadTooLargeError, 413, "payload-too-large"),
    (ValidationError, 400, "validation"),
    (AuthenticationRequiredError, 401, "authentication-required"),
    (ForbiddenError, 403, "forbidden"),
    (NotFoundError, 404, "not-found"),
    (ConflictError, 409, "conflict"),
    (UpstreamUnavailableError, 503, "upstream-unavailable"),
    (UpstreamError, 502, "upstream-error"),
    (ConfigError, 500, "configuration"),
)

_TITLES = {
    400: "Invalid request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    500: "Server misconfigured",
    502: "Upstream error",
    503: "Upstream unavailable",
}


def problem_response(exc: PushError, instance: str | None = None) -> ApiResponse:
    """RFC 9457 problem details for one of our errors; never exposes internals of upstream failures."""
    status, slug = 500, "internal"
    for error_type, code, name in _STATUS:
        if isinstance(exc, error_type):
            status, slug = code, name
            break
    problem: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": _TITLES.get(status, "Error"), "status": status}
    if status >= 500:
        # An upstream error's message names the operation and the answer (the adapters build it, never from a
        # secret), so the log tells which dependency failed and how; a configuration error's may quote a setting.
        reason = f": {exc}" if isinstance(exc, UpstreamError) else ""
        logger.warning("request failed with %s: %s%s", status, type(exc).__name__, reason)
        problem["detail"] = _upstream_detail(exc, status)
    else:
        problem["detail"] = str(exc)
    if isinstance(exc, ValidationError) and exc.errors:
        problem["errors"] = [{"location": e.location, "message": e.message} for e in exc.errors]
    if instance:
        problem["instance"] = instance
    headers: dict[str, str] = {}
    if isinstance(exc, UpstreamUnavailableError) and exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    body = json.dumps(problem, ensure_ascii=False).encode()
    return ApiResponse(status, body, "application/problem+json", headers)


def _upstream_detail(exc: PushError, status: int) -> str:
    if status == 500:
        return "the app is not configured correctly; an operator has to look at the logs"
    if status == 503:
        return "a dependency is unavailable right now; try again later"
    return "a dependency refused the request"
