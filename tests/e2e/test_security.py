"""Security over real HTTP against the running stack: what a device, a LoB system and the NH emulator observe."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.api_client import ApiClient, People, event
from tests.e2e.test_scenarios import approval, received, wait_for_delivery
from tests.support.stack import Stack, poll, running_stack, settle

pytestmark = pytest.mark.e2e

EVENT_HEADERS = {"Content-Type": "application/cloudevents+json"}


def publish_as(client: ApiClient, user: str, roles: str, body: dict) -> httpx.Response:
    headers = {**EVENT_HEADERS, "X-Dev-User": user, "X-Dev-Roles": roles}
    return client.http.post(f"{client.api}/events", headers=headers, content=json.dumps(body))


def emulator_installations(client: ApiClient) -> dict[str, dict]:
    response = client.http.get(f"{client.emulator}_emulator/installations")
    response.raise_for_status()
    return {item["installationId"]: item for item in response.json()}


class TestEventsPerSource:
    def test_the_same_event_id_from_two_systems_reaches_both_audiences_once(
        self, client: ApiClient, people: People, stack: Stack
    ):
        shared_id = f"42-{uuid.uuid4().hex[:8]}"
        news = {**event("hr.employee.left", "/lob/hr", employeeId="E-9", displayName="Tomás Ruiz"), "id": shared_id}
        request = {**approval(people.alice, people.bob), "id": shared_id}
        for body in (news, request, news, request):  # each posted twice: still one push per device each
            assert client.publish(body).status_code == 202
        alice_device, bob_device = people.devices[people.alice], people.devices[people.bob]
        poll(lambda: received(client, alice_device, shared_id), until=lambda found: len(found) >= 2)
        wait_for_delivery(client, bob_device, shared_id)
        settle(stack)
        alice = [json.dumps(d["payload"], ensure_ascii=False) for d in received(client, alice_device, shared_id)]
        assert len(alice) == 2, alice  # the HR news and the approval, once each
        assert sum("Freigabe erforderlich" in text for text in alice) == 1
        assert len(received(client, bob_device, shared_id)) == 1  # bob follows HR; the approval is alice's


class TestPublisherScopes:
    def test_a_system_publishes_its_own_source_and_is_refused_anothers(
        self, client: ApiClient, people: People, stack: Stack
    ):
        hr_system = ("sp-hr", "lob.publisher,lob.publisher.hr")
        foreign = approval(people.alice, people.bob)
        refused = publish_as(client, *hr_system, foreign)
        own = event("hr.employee.joined", "/lob/hr", employeeId="E-3", displayName="Ana Lima", team="Risk")
        accepted = publish_as(client, *hr_system, own)
        assert (refused.status_code, refused.headers["content-type"]) == (403, "application/problem+json")
        assert accepted.status_code == 202
        wait_for_delivery(client, people.devices[people.bob], own["id"])
        settle(stack)
        assert received(client, people.devices[people.alice], foreign["id"]) == []

    def test_an_event_linking_outside_the_allowlist_is_refused_and_never_pushed(
        self, client: ApiClient, people: People, stack: Stack
    ):
        shipped = event(
            "orders.order.shipped", "/lob/orders", orderId="SO-1", customerId=people.carol, total="10",
            currency="EUR", carrier="DHL", trackingUrl="https://www.dhl.com.evil.example/track",
        )  # fmt: skip
        response = client.publish(shipped)
        assert (response.status_code, response.headers["content-type"]) == (400, "application/problem+json")
        assert [e["location"] for e in response.json()["errors"]] == ["/data/trackingUrl"]
        settle(stack)
        assert received(client, people.devices[people.carol], shipped["id"]) == []


class TestInstallationOwnership:
    ROUNDS = 20

    def test_concurrent_puts_of_one_id_by_two_users_leave_one_owner_in_nh(self, client: ApiClient):
        suffix = uuid.uuid4().hex[:8]
        users = (f"ann{suffix}", f"ben{suffix}")
        ids = [f"race-{suffix}-{n}" for n in range(self.ROUNDS)]

        def channel(user: str, installation_id: str) -> str:
            """One push channel per phone: a channel seen again would hand the older registration over."""
            return hashlib.sha256(f"{user}/{installation_id}".encode()).hexdigest()

        def put(user: str, installation_id: str) -> tuple[str, str, int]:
            body = {"platform": "apns", "pushChannel": channel(user, installation_id), "language": "en"}
            return user, installation_id, client.register(user, installation_id, **body).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda pair: put(*pair), [(u, i) for i in ids for u in users]))
        stored = emulator_installations(client)
        for installation_id in ids:
            statuses = {user: status for user, i, status in results if i == installation_id}
            assert sorted(statuses.values()) == [200, 404], statuses
            [winner] = [user for user, status in statuses.items() if status == 200]
            assert (stored[installation_id]["userId"], stored[installation_id]["pushChannel"]) == (
                winner,
                channel(winner, installation_id),
            )

    def test_another_users_device_is_404_like_a_missing_one(self, client: ApiClient, people: People):
        device = people.devices[people.alice]
        before = emulator_installations(client)[device]
        as_bob = {"X-Dev-User": people.bob}
        other = [
            client.http.get(f"{client.api}/installations/{device}", headers=as_bob),
            client.http.delete(f"{client.api}/installations/{device}", headers=as_bob),
        ]
        missing = [
            client.http.get(f"{client.api}/installations/nothing-{device}", headers=as_bob),
            client.http.delete(f"{client.api}/installations/nothing-{device}", headers=as_bob),
        ]
        put = client.register(people.bob, device, platform="apns", pushChannel="ef" * 32)
        for theirs, absent in zip(other, missing, strict=True):
            assert theirs.status_code == absent.status_code == 404
            assert theirs.json()["detail"].replace(device, "X") == absent.json()["detail"].replace(
                f"nothing-{device}", "X"
            )
        assert put.status_code == 404
        assert emulator_installations(client)[device] == before


def forged_admin() -> str:
    claims = [
        {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": "mallory"},
        {"typ": "roles", "val": "push.admin"},
    ]
    return base64.b64encode(json.dumps({"auth_typ": "aad", "claims": claims}).encode()).decode()


@pytest.fixture(scope="module")
def unprotected_stack(azurite_tables: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """AUTH_MODE=easyauth on a host without App Service Authentication in front (no WEBSITE_AUTH_ENABLED)."""
    workdir: Path = tmp_path_factory.mktemp("easyauth-off")
    with running_stack(azurite_tables, workdir, AUTH_MODE="easyauth") as running:
        yield running


class TestEasyAuthWithoutThePlatform:
    def test_a_forged_principal_gets_401_everywhere_and_nothing_reaches_nh(self, unprotected_stack: Stack):
        headers = {"X-MS-CLIENT-PRINCIPAL": forged_admin(), "X-MS-CLIENT-PRINCIPAL-IDP": "aad"}
        api = unprotected_stack.api
        with httpx.Client(timeout=30, headers=headers) as http:
            answers = [
                http.put(f"{api}/installations/mallory-phone", json={"platform": "apns", "pushChannel": "ab" * 32}),
                http.get(f"{api}/me/installations"),
                http.get(f"{api}/deadletters"),
                http.get(f"{api}/health/dependencies"),
                http.post(f"{api}/events", headers=EVENT_HEADERS, content=b"{}"),
            ]
            installations = http.get(f"{unprotected_stack.emulator}_emulator/installations").json()
        assert [(r.status_code, r.headers["content-type"]) for r in answers] == [
            (401, "application/problem+json")
        ] * len(answers)
        assert installations == []

    def test_anonymous_health_reports_unavailable_without_configuration_detail(self, unprotected_stack: Stack):
        response = httpx.get(f"{unprotected_stack.api}/health", timeout=30)
        assert (response.status_code, response.json()) == (503, {"status": "unavailable"})
        log = (unprotected_stack.devhost.log).read_text()
        assert "App Service Authentication is not on" in log  # the operator's explanation is in the log
