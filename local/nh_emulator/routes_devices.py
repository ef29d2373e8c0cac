"""Local-only views under /_emulator/ of what the phones show and what the hub was asked to send."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from local.nh_emulator.context import emulator_of
from local.nh_emulator.devices import notification_centre
from local.nh_emulator.state import Delivery

__all__ = ["device", "devices", "notifications"]


def _device_json(installation_id: str, received: list[Delivery]) -> dict[str, object]:
    shown = notification_centre(received)
    return {
        "installationId": installation_id,
        "received": len(received),
        "shown": [entry.to_json() for entry in shown],
    }


def _by_installation(deliveries: Iterable[Delivery]) -> dict[str, list[Delivery]]:
    grouped: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        if delivery.installation_id is not None:
            grouped.setdefault(delivery.installation_id, []).append(delivery)
    return grouped


async def devices(request: Request) -> Response:
    """Every device that received a push: how many it received and the notifications it shows now."""
    grouped = _by_installation(emulator_of(request).state.deliveries)
    return JSONResponse([_device_json(installation_id, received) for installation_id, received in grouped.items()])


async def device(request: Request) -> Response:
    """One device's screen (an installation that received nothing shows nothing)."""
    installation_id = request.path_params["installation_id"]
    received = [d for d in emulator_of(request).state.deliveries if d.installation_id == installation_id]
    return JSONResponse(_device_json(installation_id, received))


async def notifications(request: Request) -> Response:
    """Every send the hub accepted and processed, oldest first (what NH was asked to do, duplicates included)."""
    records = emulator_of(request).state.notifications.values()
    return JSONResponse([record.to_json() for record in records])
