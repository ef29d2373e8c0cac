"""CORS for the routes a browser app calls (negotiate, the inbox): configured origins only, with credentials,
since the official SignalR client sends its negotiate request with ``withCredentials``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from shared.api.http import ApiRequest, ApiResponse, problem_response
from shared.composition.services import Services
from shared.domain.errors import PushError

__all__ = ["with_cors"]

Handler = Callable[[ApiRequest, Services], Awaitable[ApiResponse]]
_PREFLIGHT_MAX_AGE = "600"


def _allowed(request: ApiRequest, services: Services) -> dict[str, str]:
    origin = request.header("origin")
    if origin is None or origin.rstrip("/") not in services.settings.cors_origins:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


def with_cors(handler: Handler, methods: str) -> Handler:
    """``handler`` with CORS: a preflight (OPTIONS) is answered here; every answer, errors included, carries the
    CORS headers when the request's Origin is configured (PUSH_CORS_ORIGINS), and none otherwise."""

    async def handle(request: ApiRequest, services: Services) -> ApiResponse:
        cors = _allowed(request, services)
        if request.method == "OPTIONS":
            if cors:
                cors |= {
                    "Access-Control-Allow-Methods": f"{methods}, OPTIONS",
                    "Access-Control-Allow-Headers": request.header("access-control-request-headers") or "",
                    "Access-Control-Max-Age": _PREFLIGHT_MAX_AGE,
                }
            return ApiResponse(204, headers=cors)
        try:
            response = await handler(request, services)
        except PushError as exc:
            response = problem_response(exc)
        return replace(response, headers={**response.headers, **cors}) if cors else response

    handle.__name__ = getattr(handler, "__name__", "handler")
    return handle
