"""Small pure parts of real-time delivery: settings, the SignalR connection string and tokens, the in-app message."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from shared.adapters.signalr import SignalRGateway, parse_connection_string
from shared.composition.settings import Settings
from shared.domain.channels import in_app_message
from shared.domain.errors import ConfigError
from shared.domain.events import parse_cloud_event
from shared.domain.simulated_events import simulate_event

BASE = {
    "AUTH_MODE": "dev",
    "PUSH_NH_CONNECTION_STRING": "Endpoint=sb://x/;SharedAccessKeyName=a;SharedAccessKey=b",
    "PUSH_NH_HUB_NAME": "hub",
    "PUSH_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
}
KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"


class TestSettings:
    def test_defaults_without_signalr(self):
        settings = Settings.from_env(BASE)
        assert (settings.signalr_connection_string, settings.inapp_fallback, settings.cors_origins) == (
            None,
            timedelta(seconds=5),
            (),
        )

    def test_the_connection_string_stays_out_of_repr(self):
        settings = Settings.from_env({**BASE, "PUSH_SIGNALR_CONNECTION_STRING": f"Endpoint=https://s;AccessKey={KEY};"})
        assert KEY not in repr(settings)
        assert "realtime=on" in repr(settings)

    @pytest.mark.parametrize("value", ["0", "-1", "301", "soon"])
    def test_a_fallback_delay_outside_1_to_300_seconds_is_refused(self, value):
        with pytest.raises(ConfigError, match="PUSH_INAPP_FALLBACK_SECONDS"):
            Settings.from_env({**BASE, "PUSH_INAPP_FALLBACK_SECONDS": value})

    def test_an_endpoint_alone_turns_real_time_on_with_the_identity(self):
        settings = Settings.from_env({**BASE, "PUSH_SIGNALR_ENDPOINT": "https://s.service.signalr.net"})
        assert (settings.signalr_endpoint, settings.signalr_connection_string) == (
            "https://s.service.signalr.net",
            None,
        )
        assert "realtime=on" in repr(settings)

    def test_cors_origins_are_a_list_and_never_a_wildcard(self):
        settings = Settings.from_env({**BASE, "PUSH_CORS_ORIGINS": "https://app.test/, http://127.0.0.1:9099"})
        assert settings.cors_origins == ("https://app.test", "http://127.0.0.1:9099")
        with pytest.raises(ConfigError, match="PUSH_CORS_ORIGINS"):
            Settings.from_env({**BASE, "PUSH_CORS_ORIGINS": "*"})


class TestConnectionString:
    def test_port_and_client_endpoint(self):
        parsed = parse_connection_string(f"endpoint=http://127.0.0.1;PORT=8888;AccessKey={KEY};Version=1.0;")
        assert (parsed.endpoint, parsed.client_endpoint) == ("http://127.0.0.1:8888", "http://127.0.0.1:8888")
        cdn = parse_connection_string(
            f"Endpoint=https://s.service.signalr.net;AccessKey={KEY};ClientEndpoint=https://c/;"
        )
        assert (cdn.endpoint, cdn.client_endpoint) == ("https://s.service.signalr.net", "https://c")
        assert KEY not in repr(cdn)

    @pytest.mark.parametrize(
        "text", ["", "Endpoint=ftp://x;AccessKey=k", "Endpoint=https://x;", "Endpoint=http://x;Port=ab;AccessKey=k"]
    )
    def test_an_unusable_connection_string_is_a_config_error(self, text):
        with pytest.raises(ConfigError):
            parse_connection_string(text)

    async def test_client_tokens_name_the_user_and_drop_the_port_from_the_audience(self):
        async with httpx.AsyncClient() as http:
            gateway = SignalRGateway(
                parse_connection_string(f"Endpoint=http://127.0.0.1;Port=8888;AccessKey={KEY};"), "Notifications", http
            )
            info = await gateway.client_connection("anna")
        assert info.url == "http://127.0.0.1:8888/client/?hub=notifications"
        claims = jwt.decode(
            info.access_token, KEY.encode(), algorithms=["HS256"], audience="http://127.0.0.1/client/?hub=notifications"
        )
        assert (claims["asrs.s.uid"], claims["nameid"]) == ("anna", "anna")
        assert claims["exp"] - time.time() == pytest.approx(3600, abs=5)

    async def test_the_client_origin_is_where_browsers_connect_without_a_path(self):
        async with httpx.AsyncClient() as http:
            local = SignalRGateway.from_connection_string(
                f"Endpoint=http://127.0.0.1;Port=8888;AccessKey={KEY};", "notifications", http
            )
            behind = SignalRGateway.from_connection_string(
                f"Endpoint=https://s.service.signalr.net;AccessKey={KEY};ClientEndpoint=https://c.example:8443/sr/;",
                "notifications",
                http,
            )
        assert (local.client_origin, behind.client_origin) == ("http://127.0.0.1:8888", "https://c.example:8443")


class TestIdentity:
    async def test_the_client_origin_is_the_service_url(self):
        async with httpx.AsyncClient() as http:
            gateway = SignalRGateway.with_identity(
                "https://s.service.signalr.net/",
                object(),
                "notifications",
                http,  # type: ignore[arg-type]
            )
        assert gateway.client_origin == "https://s.service.signalr.net"

    @pytest.mark.parametrize("endpoint", ["s.service.signalr.net", "ftp://s", ""])
    async def test_with_identity_needs_an_http_url(self, endpoint):
        async with httpx.AsyncClient() as http:
            with pytest.raises(ConfigError):
                SignalRGateway.with_identity(endpoint, object(), "notifications", http)  # type: ignore[arg-type]


class TestInAppMessage:
    def test_the_shape_the_app_receives(self):
        now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
        raw = simulate_event("orders.order.shipped", random.Random(3), now=now, user_ids=["anna"])
        event = parse_cloud_event(json.dumps(raw).encode(), "application/cloudevents+json")
        message = in_app_message(event, "es", now, silent=False).to_json()
        assert set(message) == {
            "id", "type", "title", "body", "language", "createdAt", "deepLink", "category", "silent", "data",
        }  # fmt: skip
        assert message["id"] == event.notification_id != raw["id"]
        assert message["createdAt"] == "2026-11-22T12:00:00+00:00"
        assert message["deepLink"].startswith("enterprisepush://orders/")
        assert message["data"]["orderId"] == raw["data"]["orderId"]
        assert message["language"] == "es"
