"""Registration API through function_app's functions, on Azurite and the NH emulator: happy paths and attacks."""

from __future__ import annotations

import base64
import json

import pytest

import function_app
from shared.composition.services import Services
from tests.function.conftest import Emulator, body_of, call, put_installation, settings_for
from tests.support.app_functions import triggers

pytestmark = pytest.mark.function

APNS = "ab" * 32
FCM = "fcm_" + "Z" * 40
WNS = "https://db5p.notify.windows.com/?token=AwYAAAB"


async def register(user: str, installation_id: str, payload: dict) -> tuple[int, dict]:
    response = await put_installation(user, installation_id, payload)
    return response.status_code, body_of(response)


class TestRegisterDevice:
    async def test_registers_a_device_in_nh_and_the_mirror(self, services: Services, emulator: Emulator):
        status, body = await register(
            "alice", "alice-phone", {"platform": "apns", "pushChannel": APNS, "language": "de-DE"}
        )
        assert status == 200
        assert body["language"] == "de"
        assert body["state"] == "active"
        assert {"user:alice", "platform:apns", "lang:de"} <= set(body["tags"])
        assert "alice-phone" in await emulator.installation_ids()
        listed = body_of(await call(function_app.list_my_devices, "GET", "me/installations", user="alice"))
        assert [item["installationId"] for item in listed["installations"]] == ["alice-phone"]

    async def test_the_same_put_twice_gives_the_same_result(self, services: Services, emulator: Emulator):
        payload = {"platform": "fcmv1", "pushChannel": FCM, "interests": ["hr"]}
        first = await register("alice", "tablet", payload)
        second = await register("alice", "tablet", payload)
        assert first == second

    async def test_each_platform_gets_its_alert_and_silent_templates(self, services: Services, emulator: Emulator):
        for installation_id, payload in {
            "i-apns": {"platform": "apns", "pushChannel": APNS},
            "i-fcm": {"platform": "fcmv1", "pushChannel": FCM},
            "i-wns": {"platform": "wns", "pushChannel": WNS},
        }.items():
            status, body = await register("carol", installation_id, payload)
            assert status == 200, body
        response = await emulator.http.get(f"{emulator.base_url}_emulator/installations")
        stored = {item["installationId"]: item for item in response.json()}
        for installation_id in ("i-apns", "i-fcm", "i-wns"):
            assert set(stored[installation_id]["templates"]) == {"alert", "silent"}
        assert stored["i-wns"]["templates"]["alert"]["headers"]["X-WNS-Type"] == "wns/toast"
        assert stored["i-apns"]["templates"]["alert"]["headers"]["apns-push-type"] == "alert"

    async def test_test_notification_reaches_only_the_callers_devices(self, services: Services, emulator: Emulator):
        await register("alice", "alice-phone", {"platform": "fcmv1", "pushChannel": FCM, "language": "es"})
        await register("bob", "bob-phone", {"platform": "apns", "pushChannel": APNS})
        response = await call(function_app.send_test_notification, "POST", "me/test-notification", user="alice")
        assert response.status_code == 200
        outcome = body_of(response)
        assert outcome["success"] == 1
        assert outcome["failure"] == 0
        inbox = await emulator.inbox("alice-phone")
        assert len(inbox) == 1
        assert "Notificación de prueba" in json.dumps(inbox[0]["payload"], ensure_ascii=False)
        assert await emulator.inbox("bob-phone") == []


class TestOwnershipAndHandOver:
    async def test_another_user_gets_403_on_get_put_and_delete(self, services: Services, emulator: Emulator):
        await register("alice", "alice-phone", {"platform": "apns", "pushChannel": APNS})
        route = {"installationId": "alice-phone"}
        got = await call(function_app.get_device, "GET", "installations/alice-phone", user="bob", route_params=route)
        put_status, _ = await register("bob", "alice-phone", {"platform": "apns", "pushChannel": "cd" * 32})
        deleted = await call(
            function_app.unregister_device, "DELETE", "installations/alice-phone", user="bob", route_params=route
        )
        assert (got.status_code, put_status, deleted.status_code) == (403, 403, 403)
        assert got.mimetype == "application/problem+json"
        assert "alice-phone" in await emulator.installation_ids()

    async def test_phone_that_changes_hands_stops_receiving_the_previous_owners_pushes(
        self, services: Services, emulator: Emulator
    ):
        await register("alice", "old-install", {"platform": "fcmv1", "pushChannel": FCM})
        await register("bob", "new-install", {"platform": "fcmv1", "pushChannel": FCM})
        assert await emulator.installation_ids() == {"new-install"}
        alice_devices = body_of(await call(function_app.list_my_devices, "GET", "me/installations", user="alice"))
        assert alice_devices["installations"] == []

    async def test_delete_is_idempotent(self, services: Services, emulator: Emulator):
        await register("alice", "alice-phone", {"platform": "apns", "pushChannel": APNS})
        route = {"installationId": "alice-phone"}
        for _ in range(2):
            response = await call(
                function_app.unregister_device, "DELETE", "installations/alice-phone", user="alice", route_params=route
            )
            assert response.status_code == 204
        assert await emulator.installation_ids() == set()


class TestAttacks:
    @pytest.mark.parametrize(
        "payload",
        [
            {"platform": "apns", "pushChannel": APNS, "tags": ["user:bob"]},
            {"platform": "apns", "pushChannel": APNS, "userId": "bob"},
            {"platform": "apns", "pushChannel": APNS, "templates": {}},
        ],
    )
    async def test_clients_cannot_send_tags_or_identity(self, services: Services, emulator: Emulator, payload):
        status, body = await register("alice", "alice-phone", payload)
        assert status == 400
        assert body["errors"][0]["message"].startswith("unknown field")
        assert await emulator.installation_ids() == set()

    async def test_no_identity_is_401(self, services: Services, emulator: Emulator):
        response = await call(function_app.list_my_devices, "GET", "me/installations")
        assert response.status_code == 401
        assert body_of(response)["status"] == 401

    async def test_spoofed_dev_headers_are_ignored_in_easyauth_mode(
        self, services: Services, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
    ):
        monkeypatch.setattr(services, "settings", settings_for(emulator.base_url, AUTH_MODE="easyauth"))
        response = await call(function_app.list_my_devices, "GET", "me/installations", user="alice")
        spoofed_id = await call(
            function_app.list_my_devices, "GET", "me/installations", headers={"X-MS-CLIENT-PRINCIPAL-ID": "alice"}
        )
        assert (response.status_code, spoofed_id.status_code) == (401, 401)

    async def test_a_valid_easy_auth_principal_is_accepted(
        self, services: Services, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
    ):
        monkeypatch.setattr(services, "settings", settings_for(emulator.base_url, AUTH_MODE="easyauth"))
        claims = [{"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": "alice-oid"}]
        principal = base64.b64encode(json.dumps({"auth_typ": "aad", "claims": claims}).encode()).decode()
        response = await call(
            function_app.list_my_devices, "GET", "me/installations", headers={"X-MS-CLIENT-PRINCIPAL": principal}
        )
        assert response.status_code == 200

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({"platform": "gcm", "pushChannel": FCM}, "fcmv1"),
            ({"platform": "apns", "pushChannel": "not-hex"}, "APNs"),
            ({"platform": "fcmv1", "pushChannel": "short"}, "FCM"),
            ({"platform": "wns", "pushChannel": "https://evil.example.com/?notify.windows.com"}, "WNS"),
            ({"platform": "wns", "pushChannel": "http://db5p.notify.windows.com/x"}, "WNS"),
            ({"platform": "apns", "pushChannel": APNS, "interests": ["gossip"]}, "gossip"),
            ({"platform": "apns", "pushChannel": APNS, "language": "!!"}, "language"),
            ({"platform": "apns"}, "pushChannel"),
        ],
    )
    async def test_invalid_registrations_are_refused_with_the_field_at_fault(
        self, services: Services, emulator: Emulator, payload, field
    ):
        status, body = await register("alice", "alice-phone", payload)
        assert status == 400
        assert field in json.dumps(body)

    @pytest.mark.parametrize("installation_id", ["has space", "a/b", "x" * 129, "ünï", "$InstallationId:{x}"])
    async def test_invalid_installation_ids_are_refused(self, services: Services, emulator: Emulator, installation_id):
        status, body = await register("alice", installation_id, {"platform": "apns", "pushChannel": APNS})
        assert status == 400
        assert body["errors"][0]["location"] == "path:installationId"

    async def test_wrong_content_type_oversized_and_non_json_bodies(self, services: Services, emulator: Emulator):
        route = {"installationId": "alice-phone"}
        as_text = await call(
            function_app.register_device,
            "PUT",
            "installations/alice-phone",
            user="alice",
            route_params=route,
            headers={"Content-Type": "text/plain"},
            body=b'{"platform":"apns"}',
        )
        oversized = await call(
            function_app.register_device,
            "PUT",
            "installations/alice-phone",
            user="alice",
            route_params=route,
            headers={"Content-Type": "application/json"},
            body=b'{"platform":"' + b"a" * 40_000 + b'"}',
        )
        broken = await call(
            function_app.register_device,
            "PUT",
            "installations/alice-phone",
            user="alice",
            route_params=route,
            headers={"Content-Type": "application/json"},
            body=b"{\xff",
        )
        assert (as_text.status_code, oversized.status_code, broken.status_code) == (415, 413, 400)
        for response in (as_text, oversized, broken):
            assert response.mimetype == "application/problem+json"

    async def test_unicode_user_ids_get_safe_tags(self, services: Services, emulator: Emulator):
        status, body = await register("Zoë 🚀 <script>", "zoe-phone", {"platform": "apns", "pushChannel": APNS})
        assert status == 200
        user_tags = [tag for tag in body["tags"] if tag.startswith("user")]
        assert len(user_tags) == 1
        assert user_tags[0].startswith("userh:")


class TestPreferences:
    async def test_preferences_round_trip_and_update_every_device(self, services: Services, emulator: Emulator):
        await register("alice", "phone", {"platform": "apns", "pushChannel": APNS, "interests": ["hr"]})
        await register("alice", "tablet", {"platform": "fcmv1", "pushChannel": FCM, "interests": ["hr"]})
        payload = {
            "interests": ["finance", "orders"],
            "language": "de",
            "quietHours": {"start": "22:00", "end": "07:00", "timeZone": "Europe/Berlin"},
            "debitThreshold": "250.00",
        }
        put = await call(function_app.update_my_preferences, "PUT", "me/preferences", user="alice", json_body=payload)
        assert put.status_code == 200, put.get_body()
        got = body_of(await call(function_app.get_my_preferences, "GET", "me/preferences", user="alice"))
        assert got == {**payload, "debitThreshold": "250.00"}
        response = await emulator.http.get(f"{emulator.base_url}_emulator/installations")
        for item in response.json():
            assert {"topic:finance", "topic:orders", "lang:de"} <= set(item["tags"])
            assert "topic:hr" not in item["tags"]

    async def test_invalid_preferences_are_refused(self, services: Services, emulator: Emulator):
        payload = {"quietHours": {"start": "25:00", "end": "07:00", "timeZone": "Mars/Olympus"}, "debitThreshold": -1}
        response = await call(
            function_app.update_my_preferences, "PUT", "me/preferences", user="alice", json_body=payload
        )
        problem = body_of(response)
        assert response.status_code == 400
        locations = {error["location"] for error in problem["errors"]}
        assert {"/quietHours/start", "/quietHours/timeZone", "/debitThreshold"} <= locations


class TestHealthAndOpenApi:
    async def test_health_reports_tables_and_nh_without_secrets(self, services: Services, emulator: Emulator):
        response = await call(function_app.health_check, "GET", "health")
        body = body_of(response)
        assert response.status_code == 200
        assert body["checks"]["tables"]["status"] == "ok"
        assert body["checks"]["notificationHubs"]["status"] == "ok"
        assert "SharedAccessKey" not in response.get_body().decode()

    async def test_health_is_degraded_when_nh_refuses_our_key(self, services: Services, emulator: Emulator):
        from shared.adapters.nh_gateway import NotificationHubsGateway
        from shared.notification_hubs.client import NotificationHubsClient

        bad = services.settings.nh_connection_string.rsplit("SharedAccessKey=", 1)[0] + "SharedAccessKey=wrong"
        original, client = services.push, NotificationHubsClient(bad, "function-tier")
        services.push = NotificationHubsGateway(client)
        try:
            response = await call(function_app.health_check, "GET", "health")
        finally:
            await client.aclose()
            services.push = original
        assert response.status_code == 503
        assert body_of(response)["checks"]["notificationHubs"]["status"] == "error"

    async def test_openapi_describes_every_http_route(self, services: Services, emulator: Emulator):
        document = body_of(await call(function_app.openapi, "GET", "openapi.json"))
        routes = set()
        for trigger in triggers():
            if trigger["type"] == "httpTrigger":
                for method in trigger["methods"]:
                    routes.add(("/" + trigger["route"], str(getattr(method, "value", method)).lower()))
        documented = {
            (path, method) for path, item in document["paths"].items() for method in item if method != "parameters"
        }
        assert routes == documented


class TestRepair:
    async def test_an_nh_outage_leaves_the_device_listed_as_pending_and_the_next_put_repairs_it(
        self, services: Services, emulator: Emulator
    ):
        await emulator.faults({"seed": 3, "rules": [{"route": "installations", "rate": 1.0, "status": 503}]})
        status, body = await register("alice", "alice-phone", {"platform": "apns", "pushChannel": APNS})
        assert status == 503
        assert body["status"] == 503
        listed = body_of(await call(function_app.list_my_devices, "GET", "me/installations", user="alice"))
        assert [(i["installationId"], i["state"]) for i in listed["installations"]] == [("alice-phone", "pending")]
        await emulator.clear_faults()
        status, body = await register("alice", "alice-phone", {"platform": "apns", "pushChannel": APNS})
        assert (status, body["state"]) == (200, "active")
        assert "alice-phone" in await emulator.installation_ids()
