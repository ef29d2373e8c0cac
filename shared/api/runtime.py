"""Run one route handler: build services, turn our errors into problem+json, never leak internals."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from shared.api.http import ApiRequest, ApiResponse, problem_response
from shared.api.identity import identity_from_headers
from shared.composition import root as bootstrap
from shared.composition.correlation import invocation
from shared.composition.services import Services
from shared.domain.errors import PushError
from shared.domain.identity import Identity

__all__ = ["Handler", "authenticate", "run_handler"]

logger = logging.getLogger(__name__)

Handler = Callable[[ApiRequest, Services], Awaitable[ApiResponse]]


async def run_handler(handler: Handler, request: ApiRequest) -> ApiResponse:
    """Call ``handler``; PushError becomes its problem response, anything else a bare 500 (logged, not shown)."""
    try:
        services = bootstrap.services()
        name = getattr(handler, "__name__", "handler")
        with invocation(f"{request.method} {name}", request.headers, event_id=None, kind="server"):
            return await handler(request, services)
    except PushError as exc:
        return problem_response(exc)
    except Exception:
        logger.exception("unhandled error in %s", getattr(handler, "__name__", "handler"))
        return ApiResponse(
            500,
            b'{"type":"about:blank","title":"Internal error","status":500,'
            b'"detail":"the request failed unexpectedly; an operator has to look at the logs"}',
            "application/problem+json",
        )


def authenticate(request: ApiRequest, services: Services) -> Identity:
    """The caller; raises AuthenticationRequiredError."""
    settings = services.settings
    return identity_from_headers(
        request.headers, settings.auth_mode, platform_authentication=settings.platform_authentication
    )
