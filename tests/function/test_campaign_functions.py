"""Operators' sends through function_app's own functions (HTTP and timers) with real azure.functions objects, on
Azurite and the NH emulator: what the emulator's phones received is what is asserted."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.functions.timer import TimerRequest

import function_app
from shared.composition.services import Services
from tests.function.conftest import Emulator, body_of, call, put_installation
from tests.function.test_pipeline_functions import cloud_event, sb_message, trigger
from tests.support.app_functions import triggers
from tests.support.notifications import notification_of

pytestmark = pytest.mark.function

ADMIN = {"user": "ops", "roles": "push.admin"}
APNS = "cd" * 32
WNS = "https://db5p.notify.windows.com/?token=AwYAAAB"


async def register(user: str, installation_id: str, platform: str, channel: str, language: str, **extra: Any) -> None:
    body = {"platform": platform, "pushChannel": channel, "language": language, "interests": ["hr"], **extra}
    response = await put_installation(user, installation_id, body)
    assert response.status_code == 200, response.get_body()


@pytest.fixture
async def phones(services: Services, emulator: Emulator) -> None:
    """alice: German iPhone; bob: Spanish Android; carol: English Windows; dan: Spanish Android."""
    await register("alice", "alice-iphone", "apns", APNS, "de-DE")
    await register("bob", "bob-pixel", "fcmv1", "fcm_bob_" + "B" * 30, "es")
    await register("carol", "carol-surface", "wns", WNS + "carol", "en-GB")
    await register("dan", "dan-pixel", "fcmv1", "fcm_dan_" + "D" * 30, "es-MX")


async def send(body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else None
    return await call(function_app.send_notification, "POST", "notifications", headers=headers, json_body=body, **ADMIN)


async def read(campaign_id: str) -> dict[str, Any]:
    response = await call(
        function_app.get_notification, "GET", f"notifications/{campaign_id}", route_params={"id": campaign_id}, **ADMIN
    )
    assert response.status_code == 200, response.get_body()
    return dict(body_of(response))


async def run_timer(function: Any) -> None:
    await function.build().get_user_function()(TimerRequest(past_due=False))


def later(services: Services, seconds: float) -> None:
    """Move the app's clock forward (the worker's next check is a time, not a sleep)."""
    previous = services.now
    services.now = lambda: previous() + timedelta(seconds=seconds)


def title_of(delivery: dict[str, Any]) -> str:
    payload = delivery["payload"]
    if delivery["platform"] == "wns":
        return payload.split("<text>")[1].split("</text>")[0]
    document = json.loads(payload)
    return document["aps"]["alert"]["title"] if "aps" in document else document["message"]["notification"]["title"]


class TestTimerBindings:
    def test_both_timers_are_declared_on_their_schedule_settings(self):
        schedules = {t.get("schedule") for t in triggers() if t["type"] == "timerTrigger"}
        assert {"%CAMPAIGN_SCHEDULE%", "%INSTALLATION_SWEEP_SCHEDULE%"} <= schedules


class TestAudience:
    async def test_counts_the_registered_devices_an_expression_reaches(self, phones):
        response = await call(
            function_app.preview_audience,
            "GET",
            "audience",
            params={"expression": "lang:es && platform:fcmv1"},
            **ADMIN,
        )
        assert response.status_code == 200
        assert body_of(response) == {
            "expression": "lang:es && platform:fcmv1", "installations": 2, "users": 2,
            "byPlatform": {"fcmv1": 2}, "byLanguage": {"es": 2},
        }  # fmt: skip

    async def test_a_bad_expression_is_a_problem(self, phones):
        response = await call(
            function_app.preview_audience, "GET", "audience", params={"expression": "role:x || ("}, **ADMIN
        )
        assert response.status_code == 400
        assert response.mimetype == "application/problem+json"


class TestCampaigns:
    async def test_a_campaign_lands_on_the_right_phones_in_their_languages(self, services, emulator: Emulator, phones):
        response = await send(
            {
                "audience": "topic:hr && !platform:wns",
                "title": {"en": "Office closed", "de": "Büro geschlossen", "es": "Oficina cerrada"},
                "body": {"en": "Work from home today.", "de": "Heute Homeoffice.", "es": "Hoy teletrabajo."},
            }
        )
        assert response.status_code == 202
        campaign_id = body_of(response)["id"]
        assert response.headers["Location"] == f"/api/notifications/{campaign_id}"
        assert await emulator.deliveries() == []  # accepted only: the timer sends
        await run_timer(function_app.advance_campaigns)
        titles = {d["installationId"]: title_of(d) for d in await emulator.deliveries()}
        assert titles == {
            "alice-iphone": "Büro geschlossen",
            "bob-pixel": "Oficina cerrada",
            "dan-pixel": "Oficina cerrada",
        }
        later(services, 11)
        await run_timer(function_app.advance_campaigns)
        view = await read(campaign_id)
        assert (view["state"], view["audienceSize"], view["audienceByPlatform"]) == (
            "sent", 3, {"apns": 1, "fcmv1": 2},
        )  # fmt: skip
        [wave] = view["waves"]
        assert [n["telemetry"] for n in wave["notifications"]] == ["Completed"]
        assert wave["outcomes"] == {"apns": {"Success": 1}, "fcmv1": {"Success": 2}}

    async def test_the_same_idempotency_key_sends_once(self, emulator: Emulator, phones):
        body = {"users": ["carol"], "title": {"en": "Reminder"}, "body": {"en": "Policy training due."}}
        first = await send(body, key="training-2026-06")
        again = await send(body, key="training-2026-06")
        assert body_of(first)["id"] == body_of(again)["id"]
        await run_timer(function_app.advance_campaigns)
        await run_timer(function_app.advance_campaigns)
        assert [d["installationId"] for d in await emulator.deliveries()] == ["carol-surface"]

    async def test_a_scheduled_campaign_can_be_cancelled(self, emulator: Emulator, phones):
        at = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        accepted = await send({"audience": "topic:hr", "title": {"en": "T"}, "body": {"en": "B"}, "sendAt": at})
        campaign_id = body_of(accepted)["id"]
        route = {"id": campaign_id}
        cancelled = await call(
            function_app.cancel_notification, "POST", f"notifications/{campaign_id}/cancel", route_params=route, **ADMIN
        )
        assert cancelled.status_code == 200
        assert body_of(cancelled)["state"] == "cancelled"
        listed = body_of(await call(function_app.list_notifications, "GET", "notifications", **ADMIN))
        assert [(n["id"], n["state"]) for n in listed["notifications"]] == [(campaign_id, "cancelled")]
        await run_timer(function_app.advance_campaigns)
        assert await emulator.deliveries() == []

    async def test_a_dead_channel_is_removed_from_nh_and_the_mirror_after_a_send(
        self, services, emulator: Emulator, phones
    ):
        dead = await emulator.http.post(f"{emulator.base_url}_emulator/installations/dan-pixel/dead-channel")
        assert dead.status_code == 204
        accepted = await send({"audience": "platform:fcmv1", "title": {"en": "T"}, "body": {"en": "B"}})
        await run_timer(function_app.advance_campaigns)
        later(services, 11)
        await run_timer(function_app.advance_campaigns)
        view = await read(body_of(accepted)["id"])
        assert view["outcomes"] == {"fcmv1": {"Success": 1, "ExpiredChannel": 1}}
        assert view["removedInstallations"] == 1
        assert "dan-pixel" not in await emulator.installation_ids()
        mine = body_of(await call(function_app.list_my_devices, "GET", "me/installations", user="dan"))
        assert mine["installations"] == []
        assert "bob-pixel" in await emulator.installation_ids()


class TestIdleSweep:
    async def test_installations_idle_beyond_the_limit_are_removed(self, services, emulator: Emulator, phones):
        stale = await services.installations.get("carol", "carol-surface")
        await services.installations.upsert(replace(stale, updated_at=datetime.now(UTC) - timedelta(days=271)))
        await run_timer(function_app.sweep_idle_installations)
        assert await emulator.installation_ids() == {"alice-iphone", "bob-pixel", "dan-pixel"}
        assert await services.installations.get("carol", "carol-surface") is None


class TestSecureDebit:
    async def test_the_push_is_neutral_and_the_owner_alone_reads_the_content(
        self, services, emulator: Emulator, phones
    ):
        debit = cloud_event("accounts.debit.posted", ownerId="alice", amount="620.00", currency="EUR", merchant="Kern")
        await trigger("accounts", sb_message(debit))
        [pushed] = await emulator.deliveries()
        assert pushed["installationId"] == "alice-iphone"
        assert "Kern" not in pushed["payload"]
        payload = json.loads(pushed["payload"])
        notification = payload["notificationId"]  # the app reads the content by the id its push carries
        assert notification == notification_of(debit)
        assert payload["deepLink"] == f"enterprisepush://notifications/{notification}"
        route = {"id": notification}
        mine = await call(
            function_app.read_my_notification,
            "GET",
            f"me/notifications/{notification}",
            user="alice",
            route_params=route,
        )
        assert mine.status_code == 200
        assert "Kern" in body_of(mine)["body"]
        theirs = await call(
            function_app.read_my_notification, "GET", f"me/notifications/{notification}", user="bob", route_params=route
        )
        assert theirs.status_code == 404
