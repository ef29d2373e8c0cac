"""The shop page's routes through function_app: the page's policy names the SignalR origin the app is configured
with, and its files (its own and Microsoft's SignalR client from the pinned npm package) are served by name only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import azure.functions as func
import httpx
import pytest

import function_app
from local.signalr.config import WELL_KNOWN_ACCESS_KEY
from shared.adapters.signalr import SignalRGateway
from shared.composition.services import Services
from tests.function.conftest import HUB, Emulator, body_of, call
from tests.support.services import app_services

pytestmark = pytest.mark.function

ROOT = Path(__file__).resolve().parents[2]
SIGNALR_CLIENT = ROOT / "node_modules" / "@microsoft" / "signalr" / "dist" / "browser" / "signalr.min.js"


@pytest.fixture
async def with_realtime(azurite_tables: str, emulator: Emulator) -> AsyncIterator[Services]:
    """SignalR configured with a local AccessKey connection string (nothing is called: the page only names it)."""
    async with httpx.AsyncClient() as http:
        gateway = SignalRGateway.from_connection_string(
            f"Endpoint=http://127.0.0.1;Port=8888;AccessKey={WELL_KNOWN_ACCESS_KEY};Version=1.0;", "notifications", http
        )
        async with app_services(azurite_tables, emulator.base_url, HUB, realtime=gateway) as built:
            yield built


async def asset(name: str) -> func.HttpResponse:
    return await call(function_app.shop_asset, "GET", f"shop/{name}", route_params={"asset": name})


class TestShopPage:
    async def test_the_page_may_connect_to_the_configured_signalr_origin_only(self, with_realtime: Services):
        response = await call(function_app.shop_page, "GET", "shop")
        assert response.status_code == 200
        policy = response.headers["Content-Security-Policy"]
        assert "connect-src 'self' http://127.0.0.1:8888 ws://127.0.0.1:8888;" in policy
        assert b'src="shop/signalr.min.js"' in response.get_body()

    async def test_without_signalr_the_page_connects_to_the_app_only(self, services: Services):
        response = await call(function_app.shop_page, "GET", "shop")
        assert "connect-src 'self';" in response.headers["Content-Security-Policy"]


class TestShopAssets:
    async def test_the_signalr_client_is_the_pinned_npm_file_served_as_javascript(self, services: Services):
        response = await asset("signalr.min.js")
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        assert response.get_body() == SIGNALR_CLIENT.read_bytes()
        assert response.headers["X-Content-Type-Options"] == "nosniff"

    @pytest.mark.parametrize(
        "name", ["signalr.js", "signalr.min.js.map", "shop.html", "..%2Fshop.py", "chart.umd.min.js"]
    )
    async def test_any_other_name_is_a_404_problem(self, services: Services, name: str):
        response = await asset(name)
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert body_of(response)["status"] == 404
