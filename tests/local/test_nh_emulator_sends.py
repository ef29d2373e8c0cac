"""The NH emulator's sends: fan-out to the right registrations, rendering, dead channels, direct, batch, outcomes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from typing import Any

import httpx
import pytest

from local.nh_emulator.config import EmulatorConfig
from local.nh_emulator.testing import authorization, running_emulator

pytestmark = pytest.mark.local

HUB = "enterprise-push"
VERSION = "?api-version=2020-06"
NS = "{http://schemas.microsoft.com/netservices/2010/10/servicebus/connect}"
JSON_TYPE = "application/json;charset=utf-8"
PROPERTIES = {
    "title_en": "Welcome",
    "body_en": "Anna joined HR",
    "title_de": "Willkommen",
    "body_de": "Anna ist jetzt in HR",
    "title_es": "Bienvenida",
    "body_es": "Anna se unió a RR. HH.",
    "eventId": "evt-1",
}
TOAST = (
    '<toast><visual><binding template="ToastGeneric"><text id="1">$(title_es)</text>'
    '<text id="2">$(body_es)</text></binding></visual></toast>'
)
DEVICES: dict[str, dict[str, Any]] = {
    "ios-en": {
        "platform": "apns",
        "pushChannel": "apns-token-en",
        "userId": "alice",
        "tags": ["lang:en", "topic:hr"],
        "templates": {
            "alert": {"body": '{"aps":{"alert":{"title":"$(title_en)","body":"$(body_en)"}}}'},
            "silent": {"body": '{"aps":{"content-available":1},"eventId":"$(eventId)"}'},
        },
    },
    "android-de": {
        "platform": "fcmv1",
        "pushChannel": "fcm-token-de",
        "userId": "bob",
        "tags": ["lang:de", "topic:hr"],
        "templates": {
            "alert": {"body": '{"message":{"notification":{"title":"$(title_de)","body":"$(body_de)"}}}'},
            "silent": {"body": '{"message":{"data":{"eventId":"$(eventId)"}}}'},
        },
    },
    "windows-es": {
        "platform": "wns",
        "pushChannel": "https://wns.example/channel-es",
        "userId": "carol",
        "tags": ["lang:es", "topic:finance"],
        "templates": {"alert": {"body": TOAST, "headers": {"X-WNS-Type": "wns/toast"}}},
    },
    "legacy-gcm": {"platform": "gcm", "pushChannel": "gcm-token", "userId": "dave", "tags": ["lang:en", "topic:hr"]},
}


@pytest.fixture
def hub(hub: httpx.Client) -> httpx.Client:
    """The hub client of the tier (tests/local/conftest.py), with every device of DEVICES installed."""
    for installation_id, device in DEVICES.items():
        body = {"installationId": installation_id, **device}
        hub.put(f"installations/{installation_id}{VERSION}", json=body).raise_for_status()
    return hub


def send(
    hub: httpx.Client,
    body: str,
    send_format: str = "template",
    tags: str | None = None,
    query: str = VERSION,
    **headers: str,
) -> httpx.Response:
    all_headers = {"ServiceBusNotification-Format": send_format, "Content-Type": JSON_TYPE, **headers}
    if tags is not None:
        all_headers["ServiceBusNotification-Tags"] = tags
    return hub.post(f"messages/{query}", content=body.encode(), headers=all_headers)


def parse_xml(text: str) -> ElementTree.Element:
    """Parse the emulator's own XML answers (trusted loopback test data)."""
    return ElementTree.fromstring(text)  # noqa: S314


def deliveries(emulator_url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(f"{emulator_url}_emulator/deliveries").json()
    return found


def reached(emulator_url: str) -> set[tuple[str | None, str | None]]:
    return {(d["installationId"], d["templateName"]) for d in deliveries(emulator_url)}


def telemetry(hub: httpx.Client, response: httpx.Response) -> ElementTree.Element:
    details = hub.get(response.headers["Location"])
    assert details.status_code == 200
    return parse_xml(details.text)


class TestTemplateFanOut:
    def test_each_matching_template_gets_its_own_language_when_the_expression_narrows_to_alert(self, hub, emulator_url):
        response = send(hub, json.dumps(PROPERTIES), tags="topic:hr && alert")
        assert response.status_code == 201
        assert response.content == b""
        assert response.headers["Location"].startswith(f"{emulator_url}{HUB}/messages/")
        assert response.headers["TrackingId"]
        assert response.headers["x-ms-correlation-request-id"]
        by_device = {d["installationId"]: d for d in deliveries(emulator_url)}
        assert set(by_device) == {"ios-en", "android-de"}
        assert json.loads(by_device["ios-en"]["payload"]) == {
            "aps": {"alert": {"title": "Welcome", "body": "Anna joined HR"}}
        }
        assert (
            json.loads(by_device["android-de"]["payload"])["message"]["notification"]["body"] == "Anna ist jetzt in HR"
        )

    def test_broadcast_template_send_reaches_every_template_registration_once(self, hub, emulator_url):
        send(hub, json.dumps(PROPERTIES))
        assert sorted(reached(emulator_url)) == sorted(
            [
                ("ios-en", "alert"),
                ("ios-en", "silent"),
                ("android-de", "alert"),
                ("android-de", "silent"),
                ("windows-es", "alert"),
            ]
        )

    def test_wns_template_renders_xml_and_its_headers_when_the_device_speaks_spanish(self, hub, emulator_url):
        send(hub, json.dumps(PROPERTIES), tags="lang:es")
        (delivery,) = deliveries(emulator_url)
        assert delivery["headers"] == {"X-WNS-Type": "wns/toast"}
        texts = [t.text for t in parse_xml(delivery["payload"]).iter("text")]
        assert texts == ["Bienvenida", "Anna se unió a RR. HH."]

    def test_installation_id_system_tag_targets_one_device_when_combined_with_a_template_name(self, hub, emulator_url):
        send(hub, json.dumps(PROPERTIES), tags="$InstallationId:{android-de} && alert")
        assert reached(emulator_url) == {("android-de", "alert")}

    def test_user_id_system_tag_targets_every_template_of_that_user(self, hub, emulator_url):
        send(hub, json.dumps(PROPERTIES), tags="$UserId:{alice}")
        assert reached(emulator_url) == {("ios-en", "alert"), ("ios-en", "silent")}

    def test_nobody_is_reached_and_telemetry_says_no_target_when_no_tag_matches(self, hub, emulator_url):
        response = send(hub, json.dumps(PROPERTIES), tags="topic:orders")
        assert response.status_code == 201
        assert deliveries(emulator_url) == []
        assert telemetry(hub, response).findtext(f"{NS}State") == "NoTargetFound"


class TestNativeFanOut:
    def test_apple_send_reaches_only_apns_installations_with_the_payload_and_apns_headers(self, hub, emulator_url):
        body = '{"aps":{"alert":"native hello"}}'
        send(hub, body, "apple", tags="topic:hr", **{"apns-push-type": "alert", "apns-priority": "10"})
        (delivery,) = deliveries(emulator_url)
        assert (delivery["installationId"], delivery["templateName"]) == ("ios-en", None)
        assert delivery["payload"] == body
        assert delivery["headers"] == {"apns-push-type": "alert", "apns-priority": "10"}

    def test_fcmv1_broadcast_reaches_only_fcmv1_installations(self, hub, emulator_url):
        send(hub, '{"message":{"notification":{"title":"t","body":"b"}}}', "fcmv1")
        assert reached(emulator_url) == {("android-de", None)}

    def test_legacy_gcm_send_reaches_only_gcm_installations(self, hub, emulator_url):
        send(hub, '{"notification":{"title":"t"}}', "gcm")
        assert reached(emulator_url) == {("legacy-gcm", None)}

    def test_windows_send_reaches_wns_installations_when_x_wns_type_is_given(self, hub, emulator_url):
        response = send(hub, "<toast><visual/></toast>", "windows", **{"X-WNS-Type": "wns/toast"})
        assert response.status_code == 201
        assert reached(emulator_url) == {("windows-es", None)}

    @pytest.mark.parametrize(
        ("send_format", "body", "headers", "fragment"),
        [
            ("fcm", "{}", {}, "fcm"),
            ("fcmv1", '{"notification":{}}', {}, "message"),
            ("windows", "<toast/>", {}, "X-WNS-Type"),
            ("apple", "not json", {}, "JSON"),
            ("template", '{"nested":{"a":"b"}}', {}, "nested"),
        ],
    )
    def test_send_answers_400_error_xml_when_the_request_is_malformed(self, hub, send_format, body, headers, fragment):
        response = send(hub, body, send_format, **headers)
        assert response.status_code == 400
        assert fragment in response.text

    def test_send_answers_400_naming_the_problem_when_the_tag_expression_is_invalid(self, hub):
        response = send(hub, json.dumps(PROPERTIES), tags="topic:hr && (lang:en")
        assert response.status_code == 400
        assert "Invalid tag expression" in response.text


class TestDeadChannels:
    def test_expired_channel_fails_once_then_is_excluded_from_later_sends(self, hub, emulator_url):
        dead = {"installationId": "dead-1", "platform": "apns", "pushChannel": "expired-abc", "tags": ["topic:hr"]}
        hub.put(f"installations/dead-1{VERSION}", json=dead).raise_for_status()
        first = send(hub, '{"aps":{"alert":"x"}}', "apple", tags="topic:hr")
        counts = telemetry(hub, first).find(f"{NS}ApnsOutcomeCounts")
        outcomes = {o.findtext(f"{NS}Name"): int(o.findtext(f"{NS}Count") or 0) for o in counts or []}
        assert outcomes == {"Success": 1, "ExpiredChannel": 1}
        assert hub.get(f"installations/dead-1{VERSION}").json()["pushChannelExpired"] is True
        second = send(hub, '{"aps":{"alert":"y"}}', "apple", tags="topic:hr")
        counts = telemetry(hub, second).find(f"{NS}ApnsOutcomeCounts")
        assert [o.findtext(f"{NS}Name") for o in counts or []] == ["Success"]
        assert all(d["installationId"] != "dead-1" for d in deliveries(emulator_url))


class TestPayloadLimits:
    def test_apns_payload_over_4096_bytes_is_not_delivered_and_counted_as_invalid_size(self, hub, emulator_url):
        response = send(hub, json.dumps({"aps": {"alert": "x" * 4100}}), "apple")
        assert response.status_code == 201
        assert deliveries(emulator_url) == []
        counts = telemetry(hub, response).find(f"{NS}ApnsOutcomeCounts")
        assert counts is not None
        assert counts.findtext(f"{NS}Outcome/{NS}Name") == "InvalidNotificationSize"


class TestDirectAndBatch:
    def test_direct_send_delivers_to_the_handle_with_direct_kept_in_location(self, hub, emulator_url):
        response = send(
            hub,
            '{"aps":{"alert":"d"}}',
            "apple",
            query=f"{VERSION}&direct",
            **{"ServiceBusNotification-DeviceHandle": "apns-token-en"},
        )
        assert response.status_code == 201
        assert response.headers["Location"].endswith("&direct")
        assert reached(emulator_url) == {("ios-en", None)}

    @pytest.mark.parametrize(
        ("content_type", "boundary", "part_header"),
        [
            ('multipart/mixed; boundary = "nh-boundary-1234"', "nh-boundary-1234", "Content-type"),  # JS
            ("multipart/mixed; boundary=nh-batch-multipart-boundary", "nh-batch-multipart-boundary", "Content-Type"),
        ],
    )
    def test_batch_send_delivers_to_every_handle_whichever_multipart_style_is_used(
        self, hub, emulator_url, content_type, boundary, part_header
    ):
        body = (
            f"--{boundary}\r\n{part_header}: {JSON_TYPE}\r\nContent-Disposition: inline; name=notification\r\n\r\n"
            '{"message":{"notification":{"title":"batch"}}}\r\n'
            f"--{boundary}\r\n{part_header}: application/json\r\nContent-Disposition: inline; name=devices\r\n\r\n"
            '["fcm-token-de","unknown-handle"]\r\n'
            f"--{boundary}--\r\n"
        )
        response = hub.post(
            f"messages/$batch{VERSION}&direct",
            content=body.encode(),
            headers={"Content-Type": content_type, "ServiceBusNotification-Format": "fcmv1"},
        )
        assert response.status_code == 201
        assert {(d["installationId"], d["pushChannel"]) for d in deliveries(emulator_url)} == {
            ("android-de", "fcm-token-de"),
            (None, "unknown-handle"),
        }


class TestTestSendAndTelemetry:
    def test_test_send_answers_notification_outcome_xml_in_dotnet_order(self, hub):
        response = send(hub, json.dumps(PROPERTIES), tags="topic:hr && alert", query=f"{VERSION}&test")
        assert response.status_code == 201
        root = parse_xml(response.text)
        assert root.tag == f"{NS}NotificationOutcome"
        assert [child.tag for child in root] == [f"{NS}Success", f"{NS}Failure", f"{NS}Results"]
        assert (root.findtext(f"{NS}Success"), root.findtext(f"{NS}Failure")) == ("2", "0")
        first = root.find(f"{NS}Results/{NS}RegistrationResult")
        assert first is not None
        assert [c.tag.removeprefix(NS) for c in first] == [
            "ApplicationPlatform",
            "PnsHandle",
            "RegistrationId",
            "Outcome",
        ]
        assert {r.findtext(f"{NS}ApplicationPlatform") for r in root.iter(f"{NS}RegistrationResult")} == {
            "apple",
            "fcmv1",
        }

    def test_test_send_accepts_test_equals_true_as_js_sends_it(self, hub):
        response = send(hub, json.dumps(PROPERTIES), tags="lang:es", query=f"{VERSION}&test=true")
        assert parse_xml(response.text).findtext(f"{NS}Success") == "1"

    def test_telemetry_lists_elements_in_the_dotnet_data_contract_order(self, hub):
        response = send(hub, json.dumps(PROPERTIES))
        root = telemetry(hub, response)
        tags = [child.tag.removeprefix(NS) for child in root]
        assert tags == [
            "NotificationId",
            "Location",
            "State",
            "EnqueueTime",
            "StartTime",
            "EndTime",
            "NotificationBody",
            "TargetPlatforms",
            "ApnsOutcomeCounts",
            "WnsOutcomeCounts",
            "FcmV1OutcomeCounts",
        ]
        assert root.findtext(f"{NS}State") == "Completed"

    def test_telemetry_answers_404_when_the_notification_is_unknown(self, hub):
        assert hub.get(f"messages/0123456789abcdef-20200101000000-1-1{VERSION}").status_code == 404


class TestOptions:
    def test_tags_match_regardless_of_case_when_case_sensitivity_is_off(self):
        with (
            running_emulator(EmulatorConfig(tag_case_sensitive=False)) as url,
            httpx.Client(base_url=f"{url}{HUB}/", headers=authorization(url)) as http,
        ):
            device = {"installationId": "ios-en", **DEVICES["ios-en"]}
            http.put(f"installations/ios-en{VERSION}", json=device).raise_for_status()
            send(http, json.dumps(PROPERTIES), tags="TOPIC:HR && Alert")
            assert reached(url) == {("ios-en", "alert")}

    def test_sink_mode_answers_201_with_location_but_records_nothing(self):
        with (
            running_emulator(EmulatorConfig(sink=True)) as url,
            httpx.Client(base_url=f"{url}{HUB}/", headers=authorization(url)) as http,
        ):
            device = {"installationId": "ios-en", **DEVICES["ios-en"]}
            http.put(f"installations/ios-en{VERSION}", json=device).raise_for_status()
            response = send(http, json.dumps(PROPERTIES))
            assert response.status_code == 201
            assert response.headers["Location"]
            assert deliveries(url) == []
