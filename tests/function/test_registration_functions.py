"""Registration API through function_app's functions, on Azurite and the NH emulator: happy paths and attacks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time

import pytest

import function_app
from shared.composition.services import Services
from shared.notification_hubs.connection import parse_connection_string
from shared.notification_hubs.sas import sas_token
from tests.function.conftest import (
    BEHIND_APP_SERVICE_AUTHENTICATION,
    HUB,
    Emulator,
    body_of,
    call,
    put_installation,
    settings_for,
)
from tests.support.app_functions import functions, triggers

pytestmark = pytest.mark.function

APNS = "ab" * 32
FCM = "fcm_" + "Z" * 40
WNS = "https://db5p.notify.windows.com/?token=AwYAAAB"

# A well-formed Entra principal with every role: what an attacker sends where nothing strips the header.
ADMIN = base64.b64encode(
    json.dumps(
        {
            "auth_typ": "aad",
            "claims": [
                {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": "alice-oid"},
                {"typ": "roles", "val": "push.admin"},
                {"typ": "roles", "val": "lob.publisher"},
                {"typ": "roles", "val": "lob.publisher.hr"},
            ],
        }
    ).encode()
).decode()


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

    async def test_an_unchanged_refresh_needs_no_nh_call_and_nh_keeps_the_device(
        self, services: Services, emulator: Emulator
    ):
        """With every installation write to NH failing, an unchanged refresh still answers 200: it made none."""
        payload = {"platform": "fcmv1", "pushChannel": FCM, "language": "en", "interests": ["hr"]}
        first = await register("alice", "tablet", payload)
        await emulator.faults({"seed": 1, "rules": [{"route": "installations", "rate": 1.0, "status": 503}]})
        try:
            again = await register("alice", "tablet", payload)
            changed_status, _ = await register("alice", "tablet", {**payload, "language": "de"})
        finally:
            await emulator.clear_faults()
        assert again == first
        assert changed_status == 503  # a changed device does go to NH
        response = await emulator.http.get(f"{emulator.base_url}_emulator/installations")
        [stored] = [item for item in response.json() if item["installationId"] == "tablet"]
        assert "lang:en" in stored["tags"]
        assert stored["pushChannel"] == FCM

    async def test_a_changed_device_is_written_to_nh_again(self, services: Services, emulator: Emulator):
        payload = {"platform": "fcmv1", "pushChannel": FCM, "language": "en"}
        await register("alice", "tablet", payload)
        status, body = await register("alice", "tablet", {**payload, "pushChannel": FCM + "2", "language": "de"})
        assert (status, body["language"], body["state"]) == (200, "de", "active")
        response = await emulator.http.get(f"{emulator.base_url}_emulator/installations")
        [stored] = [item for item in response.json() if item["installationId"] == "tablet"]
        assert stored["pushChannel"] == FCM + "2"
        assert "lang:de" in stored["tags"]

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


async def as_bob(method: str, installation_id: str) -> tuple[int, str, dict]:
    """One request about an installation id as bob: status, content type and body with the id blanked out."""
    route = {"installationId": installation_id}
    path = f"installations/{installation_id}"
    if method == "PUT":
        response = await put_installation("bob", installation_id, {"platform": "apns", "pushChannel": "cd" * 32})
    else:
        function = function_app.get_device if method == "GET" else function_app.unregister_device
        response = await call(function, method, path, user="bob", route_params=route)
    text = response.get_body().decode().replace(installation_id, "ID")
    return response.status_code, response.mimetype, json.loads(text)


class TestOwnershipAndHandOver:
    async def test_another_users_installation_answers_exactly_like_a_missing_one(
        self, services: Services, emulator: Emulator
    ):
        await register("alice", "alice-phone", {"platform": "apns", "pushChannel": APNS})
        before = await stored_installation(emulator, "alice-phone")
        others = {method: await as_bob(method, "alice-phone") for method in ("GET", "PUT", "DELETE")}
        missing = {method: await as_bob(method, "nobody-phone") for method in ("GET", "DELETE")}
        assert others["GET"] == missing["GET"]
        assert others["DELETE"] == missing["DELETE"]
        assert others["PUT"] == missing["GET"]  # a PUT of a free id would register it; of a taken one: 404
        assert others["GET"][:2] == (404, "application/problem+json")
        assert await stored_installation(emulator, "alice-phone") == before  # NH kept alice's device as it was
        listed = body_of(await call(function_app.list_my_devices, "GET", "me/installations", user="bob"))
        assert listed["installations"] == []

    async def test_phone_that_changes_hands_stops_receiving_the_previous_owners_pushes(
        self, services: Services, emulator: Emulator
    ):
        await register("alice", "old-install", {"platform": "fcmv1", "pushChannel": FCM})
        await register("bob", "new-install", {"platform": "fcmv1", "pushChannel": FCM})
        assert await emulator.installation_ids() == {"new-install"}
        alice_devices = body_of(await call(function_app.list_my_devices, "GET", "me/installations", user="alice"))
        assert alice_devices["installations"] == []

    async def test_delete_removes_the_device_and_a_repeat_finds_nothing(self, services: Services, emulator: Emulator):
        await register("alice", "alice-phone", {"platform": "apns", "pushChannel": APNS})
        route = {"installationId": "alice-phone"}
        statuses = [
            (
                await call(
                    function_app.unregister_device,
                    "DELETE",
                    "installations/alice-phone",
                    user="alice",
                    route_params=route,
                )
            ).status_code
            for _ in range(2)
        ]
        assert statuses == [204, 404]
        assert await emulator.installation_ids() == set()
        status, _ = await register("bob", "alice-phone", {"platform": "apns", "pushChannel": "cd" * 32})
        assert status == 200  # the id is free again


async def stored_installation(emulator: Emulator, installation_id: str) -> dict | None:
    """The installation as the NH emulator holds it (None when it has none by that id)."""
    response = await emulator.http.get(f"{emulator.base_url}_emulator/installations")
    return next((item for item in response.json() if item["installationId"] == installation_id), None)


class TestOwnershipRace:
    ROUNDS = 25

    async def test_two_users_racing_for_one_id_leave_exactly_one_owner_in_tables_and_nh(
        self, services: Services, emulator: Emulator
    ):
        """Concurrent PUTs of the same id by alice and bob, many times: one 200 and one 404 each time, the winner's
        row in Tables and the winner's installation in NH; the loser's channel never reaches NH."""
        ids = [f"race-{n}" for n in range(self.ROUNDS)]

        def channel(user: str, installation_id: str) -> str:
            """One push channel per phone: a channel seen again would hand the older registration over."""
            return hashlib.sha256(f"{user}/{installation_id}".encode()).hexdigest()

        async def put(user: str, installation_id: str) -> tuple[str, str, int]:
            body = {"platform": "apns", "pushChannel": channel(user, installation_id)}
            response = await put_installation(user, installation_id, body)
            return user, installation_id, response.status_code

        results = await asyncio.gather(*(put(user, i) for i in ids for user in ("alice", "bob")))
        winners: dict[str, str] = {}
        for installation_id in ids:
            statuses = {user: status for user, i, status in results if i == installation_id}
            assert sorted(statuses.values()) == [200, 404], statuses
            winners[installation_id] = next(user for user, status in statuses.items() if status == 200)

        for installation_id, winner in winners.items():
            loser = "bob" if winner == "alice" else "alice"
            stored = await stored_installation(emulator, installation_id)
            assert stored is not None
            assert (stored["userId"], stored["pushChannel"]) == (winner, channel(winner, installation_id))
            assert f"user:{loser}" not in stored["tags"]
            assert await services.installations.get(winner, installation_id) is not None
            assert await services.installations.get(loser, installation_id) is None
            assert await services.installations.find_owner(installation_id) == winner
        assert await emulator.installation_ids() == set(ids)


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

    async def test_a_valid_easy_auth_principal_is_accepted_behind_app_service_authentication(
        self, services: Services, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
    ):
        settings = settings_for(emulator.base_url, **BEHIND_APP_SERVICE_AUTHENTICATION)
        monkeypatch.setattr(services, "settings", settings)
        response = await call(
            function_app.list_my_devices, "GET", "me/installations", headers={"X-MS-CLIENT-PRINCIPAL": ADMIN}
        )
        assert response.status_code == 200


class TestEasyAuthFailsClosed:
    """AUTH_MODE=easyauth where App Service Authentication is not on (WEBSITE_AUTH_ENABLED absent): nothing strips
    X-MS-CLIENT-PRINCIPAL, so every authenticated route answers 401, and health says unavailable, nothing more."""

    @pytest.fixture
    def unprotected(self, services: Services, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(services, "settings", settings_for(emulator.base_url, AUTH_MODE="easyauth"))

    async def test_every_authenticated_route_answers_401_problem_json_even_to_a_forged_admin(
        self, unprotected: None, emulator: Emulator
    ):
        # public: liveness, the API description, the pages' static files (their data calls are authenticated),
        # the dev sign-in answers 404 outside dev mode
        anonymous = {
            "health_check",
            "openapi",
            "operator_console_asset",
            "operator_console_signin",
            "shop_page",
            "shop_asset",
        }
        checked = []
        for function in functions():
            trigger = function.get_trigger().get_dict_repr()
            if trigger["type"] != "httpTrigger" or function.get_function_name() in anonymous:
                continue
            route = trigger["route"].replace("{installationId}", "alice-phone").replace("{id}", "q-1")
            params = {"installationId": "alice-phone", "id": "q-1"}
            # CORS preflights (OPTIONS) are anonymous by the CORS protocol; they answer nothing but the CORS headers.
            methods = (str(getattr(m, "value", m)) for m in trigger["methods"])
            for method in (m for m in methods if m.upper() != "OPTIONS"):
                response = await call(
                    getattr(function_app, function.get_function_name()),
                    method,
                    route,
                    route_params=params,
                    headers={"X-MS-CLIENT-PRINCIPAL": ADMIN, "Content-Type": "application/json"},
                    body=b"{}",
                )
                assert (response.status_code, response.mimetype) == (401, "application/problem+json"), route
                checked.append(f"{method} {route}")
        assert len(checked) >= 11
        assert await emulator.installation_ids() == set()

    async def test_anonymous_health_says_unavailable_without_saying_why(self, unprotected: None):
        response = await call(function_app.health_check, "GET", "health")
        assert (response.status_code, body_of(response)) == (503, {"status": "unavailable"})

    async def test_the_same_app_behind_app_service_authentication_serves_the_admin(
        self, services: Services, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
    ):
        settings = settings_for(emulator.base_url, **BEHIND_APP_SERVICE_AUTHENTICATION)
        monkeypatch.setattr(services, "settings", settings)
        health = await call(function_app.health_check, "GET", "health")
        dependencies = await call(
            function_app.check_dependencies, "GET", "health/dependencies", headers={"X-MS-CLIENT-PRINCIPAL": ADMIN}
        )
        assert (health.status_code, body_of(health)) == (200, {"status": "ok"})
        assert dependencies.status_code == 200
        assert body_of(dependencies)["checks"]["configuration"]["platformAuthentication"] is True

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
        # The app's next launch sends its own values again: the saved preferences still win in NH.
        status, body = await register(
            "alice", "phone", {"platform": "apns", "pushChannel": APNS, "language": "en", "interests": ["hr"]}
        )
        assert (status, body["language"], body["interests"]) == (200, "de", ["finance", "orders"])
        response = await emulator.http.get(f"{emulator.base_url}_emulator/installations")
        [phone] = [item for item in response.json() if item["installationId"] == "phone"]
        assert {"topic:finance", "lang:de"} <= set(phone["tags"])
        assert "topic:hr" not in phone["tags"]

    async def test_invalid_preferences_are_refused(self, services: Services, emulator: Emulator):
        payload = {"quietHours": {"start": "25:00", "end": "07:00", "timeZone": "Mars/Olympus"}, "debitThreshold": -1}
        response = await call(
            function_app.update_my_preferences, "PUT", "me/preferences", user="alice", json_body=payload
        )
        problem = body_of(response)
        assert response.status_code == 400
        locations = {error["location"] for error in problem["errors"]}
        assert {"/quietHours/start", "/quietHours/timeZone", "/debitThreshold"} <= locations


class TestNotificationHubsRights:
    async def test_the_app_signs_with_listen_and_send_so_an_operation_needing_manage_is_refused(
        self, services: Services, emulator: Emulator
    ):
        """The test stack signs with the rule production has; reading registrations by tag needs Manage."""
        connection = parse_connection_string(services.settings.nh_connection_string)
        assert connection.key_name == "backend-listen-send"
        url = f"{emulator.base_url}{HUB}/tags/topic:hr/registrations?api-version=2020-06"
        token = sas_token(emulator.base_url, connection.key_name, connection.key, int(time.time()) + 600)
        response = await emulator.http.get(url, headers={"Authorization": token})
        assert response.status_code == 401
        assert "Manage claim is required" in response.text


class TestHealthAndOpenApi:
    async def test_anonymous_health_is_liveness_only(self, services: Services, emulator: Emulator):
        response = await call(function_app.health_check, "GET", "health")
        assert (response.status_code, body_of(response)) == (200, {"status": "ok"})

    async def test_dependencies_report_tables_and_nh_to_admins_without_secrets(
        self, services: Services, emulator: Emulator
    ):
        response = await call(
            function_app.check_dependencies, "GET", "health/dependencies", user="ops", roles="push.admin"
        )
        body = body_of(response)
        assert response.status_code == 200
        assert body["checks"]["tables"]["status"] == "ok"
        assert body["checks"]["notificationHubs"]["status"] == "ok"
        assert body["checks"]["configuration"]["authMode"] == "dev"
        assert "SharedAccessKey" not in response.get_body().decode()

    async def test_dependencies_are_for_admins_only(self, services: Services, emulator: Emulator):
        anonymous = await call(function_app.check_dependencies, "GET", "health/dependencies")
        user = await call(function_app.check_dependencies, "GET", "health/dependencies", user="alice")
        assert (anonymous.status_code, user.status_code) == (401, 403)
        assert "checks" not in body_of(user)

    async def test_health_is_degraded_when_nh_refuses_our_key(self, services: Services, emulator: Emulator):
        from shared.adapters.nh_gateway import NotificationHubsGateway
        from shared.notification_hubs.client import NotificationHubsClient

        bad = services.settings.nh_connection_string.rsplit("SharedAccessKey=", 1)[0] + "SharedAccessKey=wrong"
        original, client = services.push, NotificationHubsClient(bad, "function-tier")
        services.push = NotificationHubsGateway(client)
        try:
            response = await call(
                function_app.check_dependencies, "GET", "health/dependencies", user="ops", roles="push.admin"
            )
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
