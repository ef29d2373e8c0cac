"""The NH client's sends on the wire: template and native formats, tag expressions, direct and batch direct sends."""

from __future__ import annotations

import json

import pytest

from shared.notification_hubs import (
    NhRequestError,
    apple_notification,
    fcmv1_notification,
    template_notification,
    windows_notification,
)
from tests.contract.fake_hub import (
    HUB_URL,
    LOCATION,
    NOTIFICATION_ID,
    FakeHub,
    assert_common_headers,
    created,
    nh_reply,
    query_of,
)

pytestmark = pytest.mark.contract


class TestSends:
    async def test_template_send_posts_properties_with_the_tag_expression(self, client_for) -> None:
        hub = FakeHub(created())
        result = await client_for(hub).send(
            template_notification({"title_en": "Hi", "body_en": "Your payslip is ready"}),
            tag_expression="(topic:hr && lang:en) && alert",
        )
        request = hub.last
        assert request.method == "POST"
        assert request.url.path == "/myhub/messages"
        assert query_of(request) == "api-version=2020-06"
        assert_common_headers(request)
        assert request.headers["Content-Type"] == "application/json;charset=utf-8"
        assert request.headers["ServiceBusNotification-Format"] == "template"
        assert request.headers["ServiceBusNotification-Tags"] == "(topic:hr && lang:en) && alert"
        assert request.content == b'{"title_en":"Hi","body_en":"Your payslip is ready"}'
        assert result.notification_id == NOTIFICATION_ID
        assert result.location == LOCATION
        assert result.tracking_id == "tracking-from-nh"
        assert result.correlation_id == "correlation-1"

    async def test_broadcast_sends_no_tags_header_when_no_expression_is_given(self, client_for) -> None:
        hub = FakeHub(created())
        await client_for(hub).send(template_notification({"m": "x"}))
        assert "ServiceBusNotification-Tags" not in hub.last.headers

    async def test_apple_send_passes_apns_headers_through(self, client_for) -> None:
        hub = FakeHub(created())
        payload = {"aps": {"alert": {"title": "T", "body": "B"}, "badge": 1, "sound": "default"}, "custom": "x"}
        notification = apple_notification(payload, {"apns-push-type": "alert", "apns-priority": "10"})
        await client_for(hub).send(notification, tag_expression="user:alice")
        request = hub.last
        assert request.headers["ServiceBusNotification-Format"] == "apple"
        assert request.headers["Content-Type"] == "application/json;charset=utf-8"
        assert request.headers["apns-push-type"] == "alert"
        assert request.headers["apns-priority"] == "10"
        assert json.loads(request.content) == payload

    async def test_fcmv1_send_wraps_the_message_in_its_envelope(self, client_for) -> None:
        hub = FakeHub(created())
        message = {"notification": {"title": "T", "body": "B"}, "data": {"k": "v"}, "android": {"priority": "high"}}
        await client_for(hub).send(fcmv1_notification(message), tag_expression="platform:fcmv1")
        assert hub.last.headers["ServiceBusNotification-Format"] == "fcmv1"
        assert hub.last.headers["Content-Type"] == "application/json;charset=utf-8"
        assert json.loads(hub.last.content) == {"message": message}

    async def test_fcmv1_factory_keeps_an_envelope_when_already_wrapped(self) -> None:
        wrapped = {"message": {"data": {"k": "v"}}}
        assert json.loads(fcmv1_notification(wrapped).body) == wrapped

    @pytest.mark.parametrize(
        ("wns_type", "body", "content_type"),
        [
            ("wns/toast", '<toast><visual><binding template="ToastGeneric"><text id="1">Hello</text></binding>'
             "</visual></toast>", "application/xml"),
            ("wns/raw", "raw bytes, not xml", "application/octet-stream"),
        ],
    )  # fmt: skip
    async def test_windows_send_sets_wns_type_and_content_type(
        self, client_for, wns_type: str, body: str, content_type: str
    ) -> None:
        hub = FakeHub(created())
        await client_for(hub).send(windows_notification(body, wns_type))
        assert hub.last.headers["ServiceBusNotification-Format"] == "windows"
        assert hub.last.headers["X-WNS-Type"] == wns_type
        assert hub.last.headers["Content-Type"] == content_type
        assert hub.last.content == body.encode()

    async def test_direct_send_names_the_device_handle(self, client_for) -> None:
        hub = FakeHub(created(f"{HUB_URL}/messages/{NOTIFICATION_ID}?api-version=2020-06&direct"))
        result = await client_for(hub).send_direct(apple_notification({"aps": {"alert": "x"}}), "00FC13AD")
        assert hub.last.url.path == "/myhub/messages"
        assert query_of(hub.last) == "api-version=2020-06&direct"
        assert hub.last.headers["ServiceBusNotification-DeviceHandle"] == "00FC13AD"
        assert "ServiceBusNotification-Tags" not in hub.last.headers
        assert result.notification_id == NOTIFICATION_ID

    async def test_batch_direct_send_posts_the_documented_multipart_body(self, client_for) -> None:
        hub = FakeHub(created(f"{HUB_URL}/messages/$batch/{NOTIFICATION_ID}?api-version=2020-06&direct"))
        notification = apple_notification('{"aps":{"alert":"x"}}', {"apns-push-type": "alert"})
        result = await client_for(hub).send_direct_batch(notification, ["handle1", "handle2"])
        request = hub.last
        assert request.url.raw_path.decode() == "/myhub/messages/$batch?api-version=2020-06&direct"
        assert request.headers["ServiceBusNotification-Format"] == "apple"
        assert request.headers["apns-push-type"] == "alert"
        content_type = request.headers["Content-Type"]
        assert content_type.startswith("multipart/mixed; boundary=")
        boundary = content_type.split("boundary=", 1)[1]
        assert request.content.decode() == (
            f"--{boundary}\r\n"
            "Content-Type: application/json;charset=utf-8\r\n"
            "Content-Disposition: inline; name=notification\r\n"
            "\r\n"
            '{"aps":{"alert":"x"}}\r\n'
            f"--{boundary}\r\n"
            "Content-Type: application/json\r\n"
            "Content-Disposition: inline; name=devices\r\n"
            "\r\n"
            '["handle1","handle2"]\r\n'
            f"--{boundary}--"
        )
        assert result.notification_id == NOTIFICATION_ID

    async def test_batch_location_without_an_id_gives_no_notification_id(self, client_for) -> None:
        hub = FakeHub(created(f"{HUB_URL}/messages/$batch?api-version=2020-06&direct"))
        result = await client_for(hub).send_direct_batch(template_notification({"a": "b"}), ["h"])
        assert result.notification_id is None

    async def test_send_fails_when_nh_answers_200_instead_of_201(self, client_for) -> None:
        with pytest.raises(NhRequestError) as caught:
            await client_for(FakeHub(nh_reply(200))).send(template_notification({"a": "b"}))
        assert caught.value.status_code == 200
