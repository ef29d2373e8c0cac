"""The emulator's ASGI application: NH routes under /{hub}/, local routes under /_emulator/, the page at /."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from local.nh_emulator import (
    page,
    routes_devices,
    routes_installations,
    routes_local,
    routes_messages,
    routes_registrations,
    routes_scheduled,
)
from local.nh_emulator.config import EmulatorConfig
from local.nh_emulator.context import Emulator
from local.nh_emulator.faults import FaultInjector
from local.nh_emulator.scheduler import run_scheduler
from local.nh_emulator.state import EmulatorState
from local.nh_emulator.wire import EmulatorError, error_response

__all__ = ["EmulatorApp", "create_app"]


class EmulatorApp(Starlette):
    """Starlette with fault injection in front of everything, where the raw connection is still reachable."""

    emulator: Emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Inject a configured fault, or serve the request normally."""
        faults, hub = self.emulator.faults, self.emulator.config.hub
        if scope["type"] == "http" and await faults.apply(scope, receive, send, hub, super().__call__):
            return
        await super().__call__(scope, receive, send)


async def _emulator_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EmulatorError)
    return error_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = "No service is hosted at the specified address" if exc.status_code == 404 else "Method not allowed"
    return error_response(request, EmulatorError(exc.status_code, detail))


def _routes(hub: str) -> list[Route]:
    base = f"/{hub}"
    installation = f"{base}/installations/{{installation_id}}"
    return [
        Route(installation, routes_installations.put_installation, methods=["PUT"]),
        Route(installation, routes_installations.patch_installation, methods=["PATCH"]),
        Route(installation, routes_installations.get_installation, methods=["GET"]),
        Route(installation, routes_installations.delete_installation, methods=["DELETE"]),
        Route(f"{base}/messages", routes_messages.send_message, methods=["POST"]),
        Route(f"{base}/messages/", routes_messages.send_message, methods=["POST"]),
        Route(f"{base}/messages/$batch", routes_messages.send_batch, methods=["POST"]),
        Route(f"{base}/messages/{{notification_id}}", routes_messages.get_notification, methods=["GET"]),
        Route(f"{base}/schedulednotifications", routes_scheduled.schedule_send, methods=["POST"]),
        Route(f"{base}/schedulednotifications/", routes_scheduled.schedule_send, methods=["POST"]),
        Route(f"{base}/schedulednotifications/{{scheduled_id}}", routes_scheduled.cancel_scheduled, methods=["DELETE"]),
        Route(f"{base}/tags/{{tag}}/registrations", routes_registrations.registrations_by_tag, methods=["GET"]),
        Route("/", page.index, methods=["GET"]),
        Route("/_emulator/phones", page.phones, methods=["GET"]),
        Route("/_emulator/vendor/signalr.min.js", page.signalr_client, methods=["GET"]),
        Route("/_emulator/health", routes_local.health, methods=["GET"]),
        Route("/_emulator/inbox/{installation_id}", routes_local.inbox, methods=["GET"]),
        Route("/_emulator/deliveries", routes_local.deliveries, methods=["GET"]),
        Route("/_emulator/installations", routes_local.installations, methods=["GET"]),
        Route("/_emulator/installations/{installation_id}/expire", routes_local.expire_channel, methods=["POST"]),
        Route("/_emulator/installations/{installation_id}/dead-channel", routes_local.dead_channel, methods=["POST"]),
        Route("/_emulator/notifications", routes_devices.notifications, methods=["GET"]),
        Route("/_emulator/notifications/{notification_id}", routes_local.notification, methods=["GET"]),
        Route("/_emulator/devices", routes_devices.devices, methods=["GET"]),
        Route("/_emulator/devices/{installation_id}", routes_devices.device, methods=["GET"]),
        Route("/_emulator/faults", routes_local.faults, methods=["GET"]),
        Route("/_emulator/faults", routes_local.set_faults, methods=["POST"]),
        Route("/_emulator/faults", routes_local.clear_faults, methods=["DELETE"]),
        Route("/_emulator/state", routes_local.reset_state, methods=["DELETE"]),
    ]


def create_app(config: EmulatorConfig) -> Starlette:
    """Build the emulator for ``config`` (loads the state file, if any; the scheduler runs with the lifespan)."""
    emulator = Emulator(
        config=config,
        state=EmulatorState(config.clock, config.read_delay, config.state_file),
        faults=FaultInjector(),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(run_scheduler(emulator, stop))
        try:
            yield
        finally:
            stop.set()
            await task
            emulator.state.close()

    app = EmulatorApp(
        routes=_routes(config.hub),
        exception_handlers={EmulatorError: _emulator_error, 404: _http_error, 405: _http_error},
        lifespan=lifespan,
    )
    app.emulator = emulator
    app.state.emulator = emulator
    return app
