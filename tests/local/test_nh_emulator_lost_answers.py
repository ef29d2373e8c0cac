"""The duplicate window as a fault: NH accepts and processes a send, and its answer never reaches the sender (the
connection drops after processing, or the answer comes after the client gave up). The device has the push; the
sender, not knowing, sends again."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from local.nh_emulator.config import FULL_RULE_NAME, WELL_KNOWN_FULL_KEY, connection_string
from shared.notification_hubs import NotificationHubsClient, template_notification
from shared.notification_hubs.retry import RetryPolicy
from tests.support.stack import poll

pytestmark = pytest.mark.local

HUB = "enterprise-push"
VERSION = "?api-version=2020-06"
TEMPLATE_HEADERS = {"ServiceBusNotification-Format": "template", "Content-Type": "application/json;charset=utf-8"}
DEVICE = {
    "installationId": "ios-1",
    "platform": "apns",
    "pushChannel": "apns-token",
    "tags": ["topic:hr"],
    "templates": {
        "alert": {
            "body": '{"aps":{"alert":"$(message)"}}',
            "headers": {"apns-push-type": "alert", "apns-collapse-id": "$(collapseId)"},
        }
    },
}
BODY = json.dumps({"message": "hello", "collapseId": "c1"}).encode()


@pytest.fixture
def hub(hub: httpx.Client) -> httpx.Client:
    """The local tier's hub client (empty, fault-free emulator; faults cleared afterwards) with the test device."""
    hub.put(f"installations/ios-1{VERSION}", json=DEVICE).raise_for_status()
    return hub


def set_faults(emulator_url: str, *rules: dict[str, object]) -> None:
    httpx.post(f"{emulator_url}_emulator/faults", json={"seed": 3, "rules": list(rules)}).raise_for_status()


def received(emulator_url: str) -> int:
    return int(httpx.get(f"{emulator_url}_emulator/devices/ios-1").json()["received"])


def fired(emulator_url: str) -> list[int]:
    return [rule["fired"] for rule in httpx.get(f"{emulator_url}_emulator/faults").json()["rules"]]


class TestLostAnswers:
    def test_a_dropped_answer_after_processing_leaves_the_push_on_the_device(self, hub, emulator_url):
        set_faults(emulator_url, {"route": "send", "afterProcessing": True, "drop": True, "times": 1})
        with pytest.raises(httpx.RemoteProtocolError):
            hub.post(f"messages{VERSION}", content=BODY, headers=TEMPLATE_HEADERS)
        assert received(emulator_url) == 1
        assert len(httpx.get(f"{emulator_url}_emulator/notifications").json()) == 1
        assert fired(emulator_url) == [1]

    def test_an_answer_later_than_the_client_waits_leaves_the_push_on_the_device(self, hub, emulator_url):
        set_faults(emulator_url, {"route": "send", "afterProcessing": True, "latency": 1.0, "times": 1})
        with pytest.raises(httpx.ReadTimeout):
            hub.post(f"messages{VERSION}", content=BODY, headers=TEMPLATE_HEADERS, timeout=0.2)
        assert poll(lambda: received(emulator_url), until=lambda n: n == 1, timeout=5) == 1

    def test_a_late_answer_still_arrives_for_a_client_that_waits(self, hub, emulator_url):
        set_faults(emulator_url, {"route": "send", "afterProcessing": True, "latency": 0.3})
        started = time.monotonic()
        response = hub.post(f"messages{VERSION}", content=BODY, headers=TEMPLATE_HEADERS)
        assert response.status_code == 201
        assert time.monotonic() - started >= 0.3
        assert received(emulator_url) == 1

    def test_other_routes_and_requests_the_rule_does_not_hit_are_answered(self, hub, emulator_url):
        set_faults(emulator_url, {"route": "send", "afterProcessing": True, "drop": True, "times": 1})
        assert hub.get(f"installations/ios-1{VERSION}").status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            hub.post(f"messages{VERSION}", content=BODY, headers=TEMPLATE_HEADERS)
        assert hub.post(f"messages{VERSION}", content=BODY, headers=TEMPLATE_HEADERS).status_code == 201

    @pytest.mark.parametrize(
        "rule",
        [
            {"route": "send", "afterProcessing": True},
            {"route": "send", "afterProcessing": True, "drop": True, "status": 503},
        ],
    )
    def test_an_after_processing_rule_needs_drop_or_latency_and_no_status(self, emulator_url, rule):
        assert httpx.post(f"{emulator_url}_emulator/faults", json={"rules": [rule]}).status_code == 400


@pytest.fixture
async def nh(emulator_url: str, hub: httpx.Client) -> AsyncIterator[NotificationHubsClient]:
    conn = connection_string(emulator_url, FULL_RULE_NAME, WELL_KNOWN_FULL_KEY)
    retry = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)
    async with NotificationHubsClient(conn, HUB, retry=retry) as client:
        yield client


class TestTheClientInTheWindow:
    async def test_the_client_sends_again_and_the_device_receives_twice_but_shows_once(self, nh, emulator_url):
        """The window NH leaves open: the retry cannot know the first send arrived. The collapse id keeps the
        person from seeing it twice."""
        set_faults(emulator_url, {"route": "send", "afterProcessing": True, "drop": True, "times": 1})
        await nh.send(template_notification({"message": "hello", "collapseId": "c1"}), tag_expression="topic:hr")
        async with httpx.AsyncClient() as http:
            screen = (await http.get(f"{emulator_url}_emulator/devices/ios-1")).json()
            sends = (await http.get(f"{emulator_url}_emulator/notifications")).json()
        assert (screen["received"], len(screen["shown"])) == (2, 1)
        assert len(sends) == 2
