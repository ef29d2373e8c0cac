"""Operators' sends over real HTTP through the running stack (dev host with its timers, local bus, NH emulator,
Azurite): audience counts, a campaign in two waves, cancellation of NH scheduled sends, idempotency, a dead channel
removed after a send, and a secure send read by its recipient only. What the phones received is what is asserted."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.api_client import ApiClient
from tests.support.stack import Stack, poll

pytestmark = pytest.mark.e2e

ADMIN = {"X-Dev-User": "ops", "X-Dev-Roles": "push.admin"}
WNS = "https://db5p.notify.windows.com/?token=AwYAAAB"
TITLES = {"en": "Office closed", "de": "Büro geschlossen", "es": "Oficina cerrada"}
BODIES = {"en": "Work from home today.", "de": "Heute Homeoffice.", "es": "Hoy teletrabajo."}


@dataclass
class Team:
    """Four people of one department (unique per test, so tests sharing the stack never reach each other)."""

    department: str
    devices: dict[str, tuple[str, str]]  # installation id -> (user, language)

    @property
    def audience(self) -> str:
        return f"dept:{self.department}"


@pytest.fixture
def team(client: ApiClient) -> Team:
    suffix = uuid.uuid4().hex[:8]
    department = f"e2e-{suffix}"
    phones = [
        ("apns", uuid.uuid4().hex * 2, "de-DE"),
        ("fcmv1", f"fcm_{suffix}_es1_" + "A" * 20, "es"),
        ("wns", f"{WNS}{suffix}", "en-GB"),
        ("fcmv1", f"fcm_{suffix}_es2_" + "B" * 20, "es-MX"),
    ]
    devices: dict[str, tuple[str, str]] = {}
    for number, (platform, channel, language) in enumerate(phones):
        user, installation_id = f"u{number}-{suffix}", f"d{number}-{suffix}"
        response = client.http.put(
            f"{client.api}/installations/{installation_id}",
            headers={"X-Dev-User": user, "X-Dev-Department": department},
            json={"platform": platform, "pushChannel": channel, "language": language},
        )
        assert response.status_code == 200, response.text
        devices[installation_id] = (user, language[:2])
    return Team(department, devices)


def run_campaign_timer(stack: Stack, client: ApiClient) -> None:
    """Start the campaign timer now (it also runs on its own every 5 s: CAMPAIGN_SCHEDULE)."""
    host = stack.api.removesuffix("/api")
    assert client.http.post(f"{host}/admin/functions/advance_campaigns", json={"input": ""}).status_code == 202


def send(client: ApiClient, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    headers = {**ADMIN, **({"Idempotency-Key": key} if key else {})}
    response = client.http.post(f"{client.api}/notifications", headers=headers, json=body)
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == f"/api/notifications/{response.json()['id']}"
    return dict(response.json())


def read(client: ApiClient, campaign_id: str) -> dict[str, Any]:
    response = client.http.get(f"{client.api}/notifications/{campaign_id}", headers=ADMIN)
    assert response.status_code == 200, response.text
    return dict(response.json())


def campaign_pushes(client: ApiClient, team: Team, campaign_id: str) -> dict[str, list[dict[str, Any]]]:
    """What each of the team's phones received of the campaign (by the NH notification ids the campaign reports),
    read from the emulator in one request: one consistent moment."""
    nh_ids = {n["id"] for wave in read(client, campaign_id)["waves"] for n in wave["notifications"]}
    pushes: dict[str, list[dict[str, Any]]] = {device: [] for device in team.devices}
    for delivery in client.deliveries():
        if delivery["installationId"] in pushes and delivery["notificationId"] in nh_ids:
            pushes[delivery["installationId"]].append(delivery)
    return pushes


def title_of(delivery: dict[str, Any]) -> str:
    payload = delivery["payload"]
    if delivery["platform"] == "wns":
        return str(payload.split("<text>")[1].split("</text>")[0])
    document = json.loads(payload)
    return str(document["aps"]["alert"]["title"] if "aps" in document else document["message"]["notification"]["title"])


class TestAudience:
    def test_counts_the_registered_devices_an_expression_reaches(self, client: ApiClient, team: Team):
        everyone = client.http.get(f"{client.api}/audience", headers=ADMIN, params={"expression": team.audience})
        assert everyone.status_code == 200
        assert everyone.json() == {
            "expression": team.audience, "installations": 4, "users": 4,
            "byPlatform": {"apns": 1, "fcmv1": 2, "wns": 1}, "byLanguage": {"de": 1, "en": 1, "es": 2},
        }  # fmt: skip
        spanish = client.http.get(
            f"{client.api}/audience", headers=ADMIN, params={"expression": f"{team.audience} && lang:es"}
        )
        assert (spanish.json()["installations"], spanish.json()["byPlatform"]) == (2, {"fcmv1": 2})

    def test_only_operators_may_preview_and_bad_expressions_are_problems(self, client: ApiClient, team: Team):
        user = client.http.get(f"{client.api}/audience", headers={"X-Dev-User": "u"}, params={"expression": "lang:en"})
        assert user.status_code == 403
        bad = client.http.get(f"{client.api}/audience", headers=ADMIN, params={"expression": "role:push.admin"})
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("application/problem+json")


class TestCampaigns:
    def test_a_campaign_in_two_waves_lands_on_the_right_phones_in_the_right_languages(
        self, client: ApiClient, stack: Stack, team: Team
    ):
        campaign = send(
            client,
            {
                "audience": team.audience,
                "title": TITLES,
                "body": BODIES,
                "waves": {"weights": [1, 1], "pause": "PT10S"},
            },
        )
        run_campaign_timer(stack, client)
        first = poll(
            lambda: campaign_pushes(client, team, campaign["id"]),
            until=lambda pushes: sum(map(len, pushes.values())) >= 2,
        )
        assert sorted(map(len, first.values())) == [0, 0, 1, 1]  # the first wave: half of the users
        view = read(client, campaign["id"])
        assert view["state"] == "sending"
        assert [wave["state"] for wave in view["waves"]] == ["sent", "scheduled"]
        everyone = poll(
            lambda: campaign_pushes(client, team, campaign["id"]),
            until=lambda pushes: all(pushes.values()),
            timeout=30,
        )
        for device, (_, language) in team.devices.items():
            [push] = everyone[device]
            assert title_of(push) == TITLES[language], device
        done = poll(lambda: read(client, campaign["id"]), until=lambda v: v["state"] == "sent")
        assert done["audienceSize"] == 4
        assert [wave["installations"] for wave in done["waves"]] == [2, 2]
        assert all(wave["notifications"] for wave in done["waves"])

    def test_cancelling_takes_back_the_send_nh_already_holds(self, client: ApiClient, stack: Stack, team: Team):
        at = (datetime.now(UTC) + timedelta(seconds=90)).isoformat()
        campaign = send(client, {"audience": team.audience, "title": TITLES, "body": BODIES, "sendAt": at})
        run_campaign_timer(stack, client)
        handed = poll(
            lambda: read(client, campaign["id"]), until=lambda v: v["waves"] and v["waves"][0]["notifications"]
        )
        [scheduled] = handed["waves"][0]["notifications"]
        assert scheduled["scheduled"] is True
        response = client.http.post(f"{client.api}/notifications/{campaign['id']}/cancel", headers=ADMIN)
        assert response.status_code == 200
        assert response.json()["state"] == "cancelled"
        assert response.json()["waves"][0]["state"] == "cancelled"
        record = client.http.get(f"{client.emulator}_emulator/notifications/{scheduled['id']}").json()
        assert record["state"] == "Cancelled"  # NH will not fire it
        assert all(pushes == [] for pushes in campaign_pushes(client, team, campaign["id"]).values())
        again = client.http.post(f"{client.api}/notifications/{campaign['id']}/cancel", headers=ADMIN)
        assert again.status_code == 200

    def test_the_same_idempotency_key_never_sends_twice(self, client: ApiClient, stack: Stack, team: Team):
        body = {"audience": f"{team.audience} && lang:de", "title": {"en": "Reminder"}, "body": {"en": "Training due."}}
        key = f"reminder-{uuid.uuid4()}"
        first = send(client, body, key)
        run_campaign_timer(stack, client)
        second = send(client, body, key)
        assert second["id"] == first["id"]
        poll(lambda: read(client, first["id"]), until=lambda v: v["state"] == "sent")
        run_campaign_timer(stack, client)
        pushes = campaign_pushes(client, team, first["id"])
        assert sorted(map(len, pushes.values())) == [0, 0, 0, 1]
        conflict = client.http.post(
            f"{client.api}/notifications",
            headers={**ADMIN, "Idempotency-Key": key},
            json={**body, "title": {"en": "x"}},
        )
        assert conflict.status_code == 409

    def test_a_dead_channel_disappears_after_a_send(self, client: ApiClient, stack: Stack, team: Team):
        dead_device = next(device for device, (_, language) in team.devices.items() if language == "es")
        dead_user = team.devices[dead_device][0]
        marked = client.http.post(f"{client.emulator}_emulator/installations/{dead_device}/dead-channel")
        assert marked.status_code == 204
        campaign = send(client, {"audience": team.audience, "title": TITLES, "body": BODIES})
        run_campaign_timer(stack, client)
        view = poll(lambda: read(client, campaign["id"]), until=lambda v: v["removedInstallations"] == 1, timeout=40)
        assert view["outcomes"]["fcmv1"] == {"Success": 1, "ExpiredChannel": 1}
        mine = client.http.get(f"{client.api}/me/installations", headers={"X-Dev-User": dead_user})
        assert mine.json()["installations"] == []
        at_nh = {item["installationId"] for item in client.http.get(f"{client.emulator}_emulator/installations").json()}
        assert dead_device not in at_nh
        assert set(team.devices) - {dead_device} <= at_nh
        audience = client.http.get(f"{client.api}/audience", headers=ADMIN, params={"expression": team.audience})
        assert audience.json()["installations"] == 3

    def test_a_sensitive_send_shows_neutral_text_and_only_the_recipient_reads_it(
        self, client: ApiClient, stack: Stack, team: Team
    ):
        device, (user, _) = next(iter(team.devices.items()))
        campaign = send(
            client,
            {"users": [user], "title": {"en": "Salary review"}, "body": {"en": "Your raise: 4%."}, "sensitive": True},
        )
        run_campaign_timer(stack, client)
        [push] = poll(lambda: campaign_pushes(client, team, campaign["id"])[device], until=bool)
        assert "raise" not in push["payload"]
        assert "Neue Nachricht" in push["payload"]  # the neutral text, in the phone's language
        read_it = client.http.get(f"{client.api}/me/notifications/{campaign['id']}", headers={"X-Dev-User": user})
        assert read_it.status_code == 200
        assert read_it.json()["body"] == "Your raise: 4%."
        other = client.http.get(f"{client.api}/me/notifications/{campaign['id']}", headers={"X-Dev-User": "mallory"})
        assert other.status_code == 404
