"""Function tier: function_app's own functions called with real azure.functions objects, against real Azurite
and the NH emulator over loopback; the bus is an in-memory fake (the dev host's local bus is tested elsewhere)."""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import azure.functions as func
import httpx
import pytest

import function_app
from local.nh_emulator.config import EmulatorConfig
from local.nh_emulator.testing import running_emulator
from shared.composition.services import Services
from shared.composition.settings import Settings
from shared.notification_hubs.retry import RetryPolicy
from tests.support.services import app_services
from tests.support.services import settings_for as support_settings_for

pytestmark = pytest.mark.function

HUB = "function-tier"


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    with running_emulator(EmulatorConfig(hub=HUB)) as base_url:
        yield base_url


@dataclass
class Emulator:
    """The NH emulator's local endpoints, for assertions: what each device received."""

    base_url: str
    http: httpx.AsyncClient

    async def inbox(self, installation_id: str) -> list[dict[str, Any]]:
        response = await self.http.get(f"{self.base_url}_emulator/inbox/{installation_id}")
        response.raise_for_status()
        return list(response.json())

    async def deliveries(self) -> list[dict[str, Any]]:
        response = await self.http.get(f"{self.base_url}_emulator/deliveries")
        response.raise_for_status()
        return list(response.json())

    async def installation_ids(self) -> set[str]:
        response = await self.http.get(f"{self.base_url}_emulator/installations")
        response.raise_for_status()
        return {item["installationId"] for item in response.json()}

    async def faults(self, spec: dict[str, Any]) -> None:
        (await self.http.post(f"{self.base_url}_emulator/faults", json=spec)).raise_for_status()

    async def clear_faults(self) -> None:
        (await self.http.delete(f"{self.base_url}_emulator/faults")).raise_for_status()


@pytest.fixture
async def emulator(emulator_url: str) -> AsyncIterator[Emulator]:
    async with httpx.AsyncClient(timeout=10) as http:
        (await http.delete(f"{emulator_url}_emulator/state")).raise_for_status()
        (await http.delete(f"{emulator_url}_emulator/faults")).raise_for_status()
        yield Emulator(emulator_url, http)


# What App Service sets where authentication is on (tests set it by hand: only the platform may in Azure).
BEHIND_APP_SERVICE_AUTHENTICATION = {
    "AUTH_MODE": "easyauth",
    "WEBSITE_SITE_NAME": "func-push-test",
    "WEBSITE_INSTANCE_ID": "0123abcd",
    "WEBSITE_AUTH_ENABLED": "True",
}


def settings_for(emulator_url: str, **overrides: str) -> Settings:
    return support_settings_for(emulator_url, HUB, **overrides)


@pytest.fixture
async def services(azurite_tables: str, emulator: Emulator) -> AsyncIterator[Services]:
    """Real adapters (Tables on Azurite, NH client on the emulator) under a unique table prefix."""
    fast_retry = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)
    async with app_services(
        azurite_tables, emulator.base_url, HUB, retry=fast_retry, redelivery_backoff=lambda _count: 0.0
    ) as built:
        yield built


async def call(
    function: Any,
    method: str,
    path: str,
    *,
    user: str | None = None,
    roles: str | None = None,
    route_params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
    body: bytes | None = None,
    params: dict[str, str] | None = None,
) -> func.HttpResponse:
    """Invoke an HTTP function the way the host does: build a real HttpRequest and await the user function."""
    all_headers = dict(headers or {})
    if user is not None:
        all_headers["X-Dev-User"] = user
    if roles is not None:
        all_headers["X-Dev-Roles"] = roles
    if json_body is not None:
        body = json.dumps(json_body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    query = f"?{urlencode(params)}" if params else ""
    request = func.HttpRequest(
        method=method,
        url=f"http://localhost:7071/api/{path}{query}",
        headers=all_headers,
        params={name: value for name, value in (params or {}).items() if value},  # the host leaves empty ones out
        route_params=route_params or {},
        body=body or b"",
    )
    result = function.build().get_user_function()(request)
    if inspect.isawaitable(result):
        result = await result
    assert isinstance(result, func.HttpResponse)
    return result


async def put_installation(user: str, installation_id: str, payload: Any) -> func.HttpResponse:
    """PUT /api/installations/{installation_id} as ``user`` through function_app.register_device."""
    return await call(
        function_app.register_device,
        "PUT",
        f"installations/{installation_id}",
        user=user,
        route_params={"installationId": installation_id},
        json_body=payload,
    )


def body_of(response: func.HttpResponse) -> Any:
    return json.loads(response.get_body())
