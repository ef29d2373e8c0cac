"""What every route needs: the emulator's parts, request size and api-version checks, tier gates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from starlette.requests import Request

from local.nh_emulator.config import EmulatorConfig, Tier
from local.nh_emulator.faults import FaultInjector
from local.nh_emulator.state import EmulatorState
from local.nh_emulator.wire import EmulatorError
from shared.notification_hubs.identifiers import MAX_REQUEST_BYTES

__all__ = ["Emulator", "api_version", "emulator_of", "hub_url", "read_body", "require_tier"]

_MIN_API_VERSION = "2015-01"


@dataclass
class Emulator:
    """The emulator's parts, shared by every route through ``app.state.emulator``."""

    config: EmulatorConfig
    state: EmulatorState
    faults: FaultInjector


def emulator_of(request: Request) -> Emulator:
    """The Emulator behind this request's app."""
    return cast(Emulator, request.app.state.emulator)


async def read_body(request: Request) -> bytes:
    """The request body; raises EmulatorError 413 above NH's 64 KB cap."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise EmulatorError(413, "The request entity is larger than the 64 KB the hub accepts")
    body = await request.body()
    if len(body) > MAX_REQUEST_BYTES:
        raise EmulatorError(413, "The request entity is larger than the 64 KB the hub accepts")
    return body


def api_version(request: Request) -> str:
    """The request's api-version; raises EmulatorError 400 when it is missing or older than 2015-01."""
    version = request.query_params.get("api-version")
    if not version:
        raise EmulatorError(400, "The api-version query parameter is required")
    if version[:7] < _MIN_API_VERSION:
        raise EmulatorError(400, f"The api-version '{version}' is not supported by this operation")
    return version


def hub_url(request: Request) -> str:
    """``{scheme}://{host}/{hub}`` as the client addressed it, for Location headers."""
    host = request.headers.get("host", request.url.netloc)
    return f"{request.url.scheme}://{host}/{emulator_of(request).config.hub}"


def require_tier(config: EmulatorConfig, allowed: tuple[Tier, ...], feature: str) -> None:
    """Raise EmulatorError 403 (no Retry-After: not retryable) when the hub's tier lacks ``feature``."""
    if config.tier not in allowed:
        raise EmulatorError(403, f"{feature} is not available for the {config.tier.value} tier of this hub")
