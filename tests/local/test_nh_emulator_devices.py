"""What the emulator's phones show: alerts, replaced by a later alert with the same collapse identifier (APNs
apns-collapse-id, FCM android.notification.tag, WNS X-WNS-Tag within its group); background, data-only and raw
pushes reach no screen."""

from __future__ import annotations

import json

import httpx
import pytest

from local.nh_emulator.devices import collapse_key, is_alert, notification_centre
from local.nh_emulator.state import Delivery

pytestmark = pytest.mark.local

HUB = "enterprise-push"
VERSION = "?api-version=2020-06"
TEMPLATE_HEADERS = {"ServiceBusNotification-Format": "template", "Content-Type": "application/json;charset=utf-8"}


def delivery(platform: str, payload: object, headers: dict[str, str] | None = None, n: int = 0) -> Delivery:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return Delivery(f"n{n}", "dev-1", "alert", platform, "channel", headers or {}, text, float(n))


def apns(collapse: str | None, n: int, push_type: str = "alert") -> Delivery:
    headers = {"apns-push-type": push_type}
    if collapse is not None:
        headers["apns-collapse-id"] = collapse
    payload = {"aps": {"alert": {"title": "t"}}} if push_type == "alert" else {"aps": {"content-available": 1}}
    return delivery("apns", payload, headers, n)


def fcm(tag: str | None, n: int, *, notification: bool = True) -> Delivery:
    message: dict[str, object] = {"data": {"eventId": "e"}}
    if notification:
        message["notification"] = {"title": "t"}
    if tag is not None:
        message["android"] = {"notification": {"tag": tag}}
    return delivery("fcmv1", {"message": message}, n=n)


def wns(tag: str | None, n: int, *, kind: str = "wns/toast", group: str | None = None) -> Delivery:
    headers = {"x-wns-type": kind}
    if tag is not None:
        headers["x-wns-tag"] = tag
    if group is not None:
        headers["x-wns-group"] = group
    return delivery("wns", "<toast/>", headers, n)


class TestNotificationCentre:
    @pytest.mark.parametrize("make", [lambda c, n: apns(c, n), lambda c, n: fcm(c, n), lambda c, n: wns(c, n)])
    def test_a_later_alert_with_the_same_collapse_id_replaces_the_earlier_one(self, make):
        shown = notification_centre([make("a", 0), make("b", 1), make("a", 2)])
        assert [(entry.delivery.notification_id, entry.replaced) for entry in shown] == [("n1", 0), ("n2", 1)]

    @pytest.mark.parametrize("make", [lambda c, n: apns(c, n), lambda c, n: fcm(c, n), lambda c, n: wns(c, n)])
    def test_alerts_without_a_collapse_id_are_all_shown(self, make):
        shown = notification_centre([make(None, 0), make(None, 1), make("  ", 2), make("  ", 3)])
        assert len(shown) == 4

    def test_wns_tags_replace_only_within_their_group(self):
        shown = notification_centre([wns("t", 0, group="g1"), wns("t", 1, group="g2"), wns("t", 2, group="g1")])
        assert [entry.delivery.notification_id for entry in shown] == ["n1", "n2"]

    def test_collapse_ids_are_per_platform_field_not_a_shared_namespace(self):
        """An FCM payload's apns-collapse-id header is not its collapse key; only the Android tag is."""
        assert collapse_key(delivery("fcmv1", {"message": {"notification": {}}}, {"apns-collapse-id": "x"})) is None

    def test_background_data_only_and_raw_pushes_reach_no_screen(self):
        silent = [apns("a", 0, push_type="background"), fcm("a", 1, notification=False), wns("a", 2, kind="wns/raw")]
        assert [is_alert(item) for item in silent] == [False, False, False]
        assert notification_centre(silent) == []


# ------------------------------------------------------------------------------------------- over HTTP

DEVICE = {
    "installationId": "ios-1",
    "platform": "apns",
    "pushChannel": "apns-token",
    "tags": ["topic:hr"],
    "templates": {
        "alert": {
            "body": '{"aps":{"alert":"$(message)"},"eventId":"$(eventId)"}',
            "headers": {"apns-push-type": "alert", "apns-collapse-id": "$(collapseId)"},
        }
    },
}


@pytest.fixture
def hub(hub: httpx.Client) -> httpx.Client:
    """The local tier's hub client (empty, fault-free emulator; faults cleared afterwards) with the test device."""
    hub.put(f"installations/ios-1{VERSION}", json=DEVICE).raise_for_status()
    return hub


def send(hub: httpx.Client, event_id: str, collapse: str) -> None:
    body = json.dumps({"message": event_id, "eventId": event_id, "collapseId": collapse})
    assert hub.post(f"messages{VERSION}", content=body, headers=TEMPLATE_HEADERS).status_code == 201


class TestDevicesEndpoint:
    def test_a_device_shows_one_notification_for_an_event_it_received_twice(self, hub, emulator_url):
        send(hub, "e1", "c1")
        send(hub, "e2", "c2")
        send(hub, "e1", "c1")
        screen = httpx.get(f"{emulator_url}_emulator/devices/ios-1").json()
        assert screen["received"] == 3
        shown = [(json.loads(entry["payload"])["eventId"], entry["collapseId"]) for entry in screen["shown"]]
        assert shown == [("e2", "c2"), ("e1", "c1")]
        assert [entry["replaced"] for entry in screen["shown"]] == [0, 1]

    def test_the_device_list_has_every_device_that_received_something(self, hub, emulator_url):
        send(hub, "e1", "c1")
        assert [(d["installationId"], d["received"]) for d in httpx.get(f"{emulator_url}_emulator/devices").json()] == [
            ("ios-1", 1)
        ]

    def test_the_notification_list_has_every_send_the_hub_processed(self, hub, emulator_url):
        send(hub, "e1", "c1")
        send(hub, "e1", "c1")
        records = httpx.get(f"{emulator_url}_emulator/notifications").json()
        assert [json.loads(record["body"])["eventId"] for record in records] == ["e1", "e1"]
