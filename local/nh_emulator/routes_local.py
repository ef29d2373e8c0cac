"""Local-only endpoints under /_emulator/: inboxes, deliveries, installations, telemetry, faults, reset."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from local.nh_emulator.context import emulator_of
from local.nh_emulator.fanout import DEAD_CHANNEL_OUTCOMES
from local.nh_emulator.faults import FaultRule
from shared.domain import strict_json

__all__ = [
    "clear_faults",
    "dead_channel",
    "deliveries",
    "expire_channel",
    "faults",
    "health",
    "inbox",
    "installations",
    "notification",
    "reset_state",
    "set_faults",
]


async def health(request: Request) -> Response:
    """Liveness plus what this emulator is."""
    config = emulator_of(request).config
    return JSONResponse({"status": "ok", "hub": config.hub, "tier": config.tier.value, "sink": config.sink})


async def inbox(request: Request) -> Response:
    """Deliveries to one installation, oldest first."""
    installation_id = request.path_params["installation_id"]
    found = [d.to_json() for d in emulator_of(request).state.deliveries if d.installation_id == installation_id]
    return JSONResponse(found)


async def deliveries(request: Request) -> Response:
    """Every delivery (tests count duplicates with it)."""
    return JSONResponse([d.to_json() for d in emulator_of(request).state.deliveries])


async def installations(request: Request) -> Response:
    """Every installation as readers see it now."""
    return JSONResponse(emulator_of(request).state.visible_installations())


async def notification(request: Request) -> Response:
    """What the emulator recorded about one send."""
    record = emulator_of(request).state.notifications.get(request.path_params["notification_id"])
    if record is None:
        return JSONResponse({"detail": "no such notification"}, status_code=404)
    return JSONResponse(record.to_json())


async def expire_channel(request: Request) -> Response:
    """Simulate PNS feedback for one installation: its channel is dead from now on."""
    installation_id = request.path_params["installation_id"]
    state = emulator_of(request).state
    if state.latest(installation_id) is None:
        return JSONResponse({"detail": "no such installation"}, status_code=404)
    state.mark_channel_expired(installation_id)
    return Response(status_code=204)


async def dead_channel(request: Request) -> Response:
    """The PNS stops accepting one installation's channel (app uninstalled, token rotated); NH does not know yet.

    Body (optional): ``{"outcome": "ExpiredChannel" | "BadChannel" | "WrongToken" | "UnknownError"}``. The next send
    to it reports that outcome in telemetry and test sends, and marks the installation ``pushChannelExpired``.
    """
    installation_id = request.path_params["installation_id"]
    state = emulator_of(request).state
    installation = state.latest(installation_id)
    if installation is None:
        return JSONResponse({"detail": "no such installation"}, status_code=404)
    raw = await request.body()
    try:
        outcome = strict_json.loads(raw).get("outcome", "ExpiredChannel") if raw.strip() else "ExpiredChannel"
    except (ValueError, AttributeError):
        return JSONResponse({"detail": "expected a JSON object"}, status_code=400)
    if outcome not in DEAD_CHANNEL_OUTCOMES:
        return JSONResponse({"detail": f"outcome must be one of {sorted(DEAD_CHANNEL_OUTCOMES)}"}, status_code=400)
    state.dead_channels[installation["pushChannel"]] = outcome
    return Response(status_code=204)


async def set_faults(request: Request) -> Response:
    """Replace the fault rules: ``{"seed": 1, "rules": [{"route", "rate", "status", "retryAfter", ...}]}``."""
    try:
        data = strict_json.loads(await request.body())
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            raise ValueError("expected an object with a 'rules' array")
        rules = [FaultRule.from_json(item) for item in data["rules"]]
        seed = data.get("seed")
        emulator_of(request).faults.configure(rules, int(seed) if seed is not None else None)
    except (ValueError, TypeError, KeyError) as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    return JSONResponse({"rules": len(rules)})


async def faults(request: Request) -> Response:
    """The active fault rules, each with how many requests it hit."""
    injector = emulator_of(request).faults
    return JSONResponse({"seed": injector.seed, "rules": [rule.to_json() for rule in injector.rules]})


async def clear_faults(request: Request) -> Response:
    """Remove every fault rule."""
    emulator_of(request).faults.clear()
    return Response(status_code=204)


async def reset_state(request: Request) -> Response:
    """Forget installations, deliveries, notifications and schedules."""
    emulator_of(request).state.reset()
    return Response(status_code=204)
