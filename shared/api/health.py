"""Health: anonymous liveness (no configuration detail) and an admin-only check of every dependency.

``GET /api/health`` is excluded from App Service Authentication, so anyone can call it: it answers ``ok`` or
``unavailable`` and nothing else. ``unavailable`` means the app cannot serve its API as configured (settings
invalid, or AUTH_MODE=easyauth without App Service Authentication in front); the reason is in the logs.
``GET /api/health/dependencies`` (role push.admin) reports configuration, authentication, Tables and Notification
Hubs one by one, without secrets. Where the platform does not authenticate requests nobody can be recognised as an
admin, so that report is then out of reach too and the logs are where the operator reads why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from shared.api.http import ApiRequest, ApiResponse, json_response
from shared.api.identity import report_untrusted_platform
from shared.api.operators import PUSH_ADMIN_ROLE
from shared.api.runtime import authenticate
from shared.composition import root as bootstrap
from shared.composition.services import Services
from shared.domain.errors import ConfigError, NotFoundError, PushError
from shared.domain.identity import require_role

__all__ = ["HEALTH_PROBE_ID", "get_dependencies", "get_health"]

logger = logging.getLogger(__name__)

HEALTH_PROBE_ID = "health-probe"


async def get_health(request: ApiRequest) -> ApiResponse:
    """Liveness: 200 ``ok`` when the app can serve its API as configured, 503 ``unavailable`` otherwise."""
    try:
        services = bootstrap.services()
    except ConfigError as exc:
        logger.error("health: configuration invalid: %s", exc)
        return json_response({"status": "unavailable"}, status=503)
    if not services.settings.identity_headers_trusted:
        report_untrusted_platform()
        return json_response({"status": "unavailable"}, status=503)
    return json_response({"status": "ok"})


async def get_dependencies(request: ApiRequest, services: Services) -> ApiResponse:
    """200 when every dependency answers, 503 otherwise; each check says what failed, never how it is configured."""
    require_role(authenticate(request, services), PUSH_ADMIN_ROLE)
    settings = services.settings

    async def tables() -> None:
        await services.installations.get(HEALTH_PROBE_ID, HEALTH_PROBE_ID)

    async def notification_hubs() -> None:
        try:
            await services.push.get_installation(HEALTH_PROBE_ID)
        except NotFoundError:
            return  # the hub answered and accepted our token: reachable

    checks: dict[str, dict[str, Any]] = {
        "configuration": {
            "status": "ok",
            "authMode": settings.auth_mode.value,
            "platformAuthentication": settings.platform_authentication,
            "scopedPublishers": settings.publisher_scopes.size,
        },
        "tables": await _check(tables),
        "notificationHubs": await _check(notification_hubs),
    }
    healthy = all(check["status"] == "ok" for check in checks.values())
    return json_response({"status": "ok" if healthy else "degraded", "checks": checks}, status=200 if healthy else 503)


async def _check(probe: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await probe()
    except PushError as exc:
        return {"status": "error", "error": type(exc).__name__, "latencyMs": _elapsed(started)}
    return {"status": "ok", "latencyMs": _elapsed(started)}


def _elapsed(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
