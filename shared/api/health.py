"""GET /api/health: configuration and reachability of Tables and Notification Hubs, without secrets."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from shared.api.http import ApiRequest, ApiResponse, json_response
from shared.composition import root as bootstrap
from shared.domain.errors import ConfigError, NotFoundError, PushError

__all__ = ["HEALTH_PROBE_ID", "get_health"]

logger = logging.getLogger(__name__)

HEALTH_PROBE_ID = "health-probe"


async def get_health(request: ApiRequest) -> ApiResponse:
    """200 when every dependency answers, 503 otherwise; each check says what failed, never how it is configured."""
    try:
        services = bootstrap.services()
    except ConfigError as exc:
        logger.error("health: configuration invalid: %s", exc)
        return json_response(
            {"status": "misconfigured", "checks": {"configuration": {"status": "error", "detail": str(exc)}}},
            status=503,
        )

    async def tables() -> None:
        await services.installations.get(HEALTH_PROBE_ID, HEALTH_PROBE_ID)

    async def notification_hubs() -> None:
        try:
            await services.push.get_installation(HEALTH_PROBE_ID)
        except NotFoundError:
            return  # the hub answered and accepted our token: reachable

    checks = {
        "configuration": {"status": "ok", "authMode": services.settings.auth_mode.value},
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
