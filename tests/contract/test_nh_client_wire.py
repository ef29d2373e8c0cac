"""The NH client against httpx.MockTransport handlers that check every request against NH-REST.md."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest

from shared.notification_hubs import (
    Installation,
    InstallationTemplate,
    NhAuthenticationError,
    NhForbiddenError,
    NhInvalidRequestError,
    NhNotFoundError,
    NhRequestError,
    NhThrottledError,
    NhTransientError,
    NhValidationError,
    Notification,
    NotificationHubsClient,
    PatchOperation,
    RetryPolicy,
    apple_notification,
    fcmv1_notification,
    template_notification,
    windows_notification,
)
from tests.fakes import FakeTimer

pytestmark = pytest.mark.contract

DATA = Path(__file__).parent / "data"
KEY = "dGVzdGtleXRlc3RrZXl0ZXN0a2V5dGVzdGtleTEyMzQ="
KEY_NAME = "DefaultFullSharedAccessSignature"
CONNECTION_STRING = f"Endpoint=sb://myns.servicebus.windows.net/;SharedAccessKeyName={KEY_NAME};SharedAccessKey={KEY}"
HUB_URL = "https://myns.servicebus.windows.net/myhub"
NOW = 1_700_000_000.0
NOTIFICATION_ID = "2e7f83cc61d44e3d9397c86939918508-20200723042753-586152-10"
LOCATION = f"{HUB_URL}/messages/{NOTIFICATION_ID}?api-version=2020-06"

Reply = httpx.Response | Exception


class FakeHub:
    """A MockTransport handler that records requests and plays back scripted replies (the last one repeats)."""

    def __init__(self, *replies: Reply | Callable[[httpx.Request], Reply]) -> None:
        self.replies = list(replies) or [httpx.Response(200)]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if callable(reply) and not isinstance(reply, httpx.Response):
            reply = reply(request)
        if isinstance(reply, Exception):
            raise reply
        return reply

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def nh_reply(status: int, *, body: bytes = b"", headers: dict[str, str] | None = None) -> httpx.Response:
    base = {"TrackingId": "tracking-from-nh", "x-ms-correlation-request-id": "correlation-1"}
    if body:
        base["Content-Type"] = "application/xml; charset=utf-8"
    return httpx.Response(status, content=body, headers={**base, **(headers or {})})


def created(location: str = LOCATION) -> httpx.Response:
    return nh_reply(201, headers={"Location": location})


def error_body(status: int, detail: str) -> bytes:
    return f"<Error><Code>{status}</Code><Detail>{detail}</Detail></Error>".encode()


@pytest.fixture
def timer() -> FakeTimer:
    return FakeTimer()


@pytest.fixture
def make_client(timer: FakeTimer):
    clients: list[tuple[NotificationHubsClient, httpx.AsyncClient]] = []

    def make(hub: FakeHub, retry: RetryPolicy | None = None) -> NotificationHubsClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(hub))
        client = NotificationHubsClient(
            CONNECTION_STRING,
            "myhub",
            http_client=http,
            retry=retry or RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=10.0, total_budget=20.0, jitter=0.0),
            clock=lambda: NOW,
            sleep=timer.sleep,
            monotonic=timer.monotonic,
        )
        clients.append((client, http))
        return client

    yield make
    for _, http in clients:
        assert not http.is_closed  # the client never closes an AsyncClient it was given


def assert_common_headers(request: httpx.Request) -> None:
    """SAS token shape and signature, api-version header, a uuid TrackingId."""
    auth = request.headers["Authorization"]
    assert auth.startswith("SharedAccessSignature ")
    fields = dict(part.split("=", 1) for part in auth.removeprefix("SharedAccessSignature ").split("&"))
    assert list(fields) == ["sr", "sig", "se", "skn"]
    assert fields["sr"] == quote(HUB_URL.lower(), safe="")
    assert fields["skn"] == KEY_NAME
    assert int(fields["se"]) > NOW
    expected = hmac.new(KEY.encode(), f"{fields['sr']}\n{fields['se']}".encode(), hashlib.sha256).digest()
    assert unquote(fields["sig"]) == base64.b64encode(expected).decode()
    assert request.headers["x-ms-version"] == "2020-06"
    assert len(request.headers["TrackingId"]) == 36


def query_of(request: httpx.Request) -> str:
    return request.url.query.decode()


def installation() -> Installation:
    return Installation(
        installation_id="inst-1",
        platform="apns",
        push_channel="62BC1E03A5D5C3AE",
        user_id="alice",
        tags=["user:alice", "lang:en"],
        templates={"alert": InstallationTemplate(body='{"aps":{"alert":"$(title_en)"}}', tags=["alert"])},
    )


class TestInstallations:
    async def test_put_sends_the_installation_json_when_creating_or_replacing(self, make_client) -> None:
        hub = FakeHub(nh_reply(200))
        result = await make_client(hub).create_or_update_installation(installation())
        request = hub.last
        assert request.method == "PUT"
        assert request.url.path == "/myhub/installations/inst-1"
        assert query_of(request) == "api-version=2020-06"
        assert request.headers["Content-Type"] == "application/json"
        assert_common_headers(request)
        assert json.loads(request.content) == {
            "installationId": "inst-1",
            "platform": "apns",
            "pushChannel": "62BC1E03A5D5C3AE",
            "userId": "alice",
            "tags": ["user:alice", "lang:en"],
            "templates": {"alert": {"body": '{"aps":{"alert":"$(title_en)"}}', "tags": ["alert"]}},
        }
        assert (result.tracking_id, result.correlation_id) == ("tracking-from-nh", "correlation-1")

    async def test_put_leaves_out_read_only_fields_when_the_installation_came_from_a_get(self, make_client) -> None:
        hub = FakeHub(nh_reply(200))
        read = Installation.from_wire(json.loads((DATA / "nh_installation_get.json").read_text()))
        await make_client(hub).create_or_update_installation(read)
        body = json.loads(hub.last.content)
        assert "pushChannelExpired" not in body
        assert "expirationTime" not in body
        assert body["templates"]["Template Name"]["expiry"] == "2018-11-07T16:18:32.6641371-08:00"

    async def test_put_fails_when_nh_answers_anything_but_200(self, make_client) -> None:
        with pytest.raises(NhRequestError) as caught:
            await make_client(FakeHub(nh_reply(201))).create_or_update_installation(installation())
        assert caught.value.status_code == 201

    async def test_patch_sends_a_json_patch_when_updating(self, make_client) -> None:
        hub = FakeHub(nh_reply(200))
        operations = [
            PatchOperation("add", "/tags", "topic:hr"),
            PatchOperation("remove", "/tags/topic:finance"),
            PatchOperation("replace", "/pushChannel", "new-channel"),
        ]
        await make_client(hub).patch_installation("inst-1", operations)
        request = hub.last
        assert request.method == "PATCH"
        assert request.url.path == "/myhub/installations/inst-1"
        assert request.headers["Content-Type"] == "application/json-patch+json"
        assert_common_headers(request)
        assert json.loads(request.content) == [
            {"op": "add", "path": "/tags", "value": "topic:hr"},
            {"op": "remove", "path": "/tags/topic:finance"},
            {"op": "replace", "path": "/pushChannel", "value": "new-channel"},
        ]

    async def test_get_reads_the_json_body_when_nh_labels_it_xml(self, make_client) -> None:
        body = (DATA / "nh_installation_get.json").read_bytes()
        hub = FakeHub(nh_reply(200, body=body))
        got = await make_client(hub).get_installation("08c8a8c5-3c17-4a2b-9a4e-2f5f1b1d7c3a")
        assert hub.last.method == "GET"
        assert hub.last.url.path == "/myhub/installations/08c8a8c5-3c17-4a2b-9a4e-2f5f1b1d7c3a"
        assert hub.last.content == b""
        assert got.platform == "apns"
        assert got.push_channel_expired is False
        assert got.expiration_time == "9999-12-31T23:59:59.9999999Z"
        assert got.tags == ["tag1"]
        assert got.push_variables == {"var1": "value1"}
        assert got.templates["Template Name"].tags == ["Template Name"]
        assert got.user_id == "d798e1c7-2a6f-4c8e-9a3f-0e4b5c6d7e8f"

    async def test_get_raises_not_found_with_nh_detail_when_the_installation_is_missing(self, make_client) -> None:
        hub = FakeHub(nh_reply(404, body=(DATA / "nh_error_installation_not_found.xml").read_bytes()))
        with pytest.raises(NhNotFoundError) as caught:
            await make_client(hub).get_installation("missing")
        assert caught.value.detail is not None
        assert caught.value.detail.startswith("Installation not found.")
        assert caught.value.tracking_id == "tracking-from-nh"

    async def test_get_raises_request_error_when_the_body_is_not_an_installation(self, make_client) -> None:
        with pytest.raises(NhRequestError, match="unreadable"):
            await make_client(FakeHub(nh_reply(200, body=b"<oops/>"))).get_installation("inst-1")

    @pytest.mark.parametrize("status", [204, 404])
    async def test_delete_succeeds_when_nh_deleted_it_or_it_was_already_gone(self, make_client, status: int) -> None:
        hub = FakeHub(nh_reply(status))
        result = await make_client(hub).delete_installation("inst-1")
        assert hub.last.method == "DELETE"
        assert hub.last.url.path == "/myhub/installations/inst-1"
        assert_common_headers(hub.last)
        assert result.tracking_id == "tracking-from-nh"

    async def test_installation_ids_are_escaped_in_the_path_when_they_hold_a_hash(self, make_client) -> None:
        hub = FakeHub(nh_reply(204))
        await make_client(hub).delete_installation("dev#1@x")
        assert hub.last.url.raw_path.decode() == "/myhub/installations/dev%231@x?api-version=2020-06"


class TestSends:
    async def test_template_send_posts_properties_with_the_tag_expression(self, make_client) -> None:
        hub = FakeHub(created())
        result = await make_client(hub).send(
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

    async def test_broadcast_sends_no_tags_header_when_no_expression_is_given(self, make_client) -> None:
        hub = FakeHub(created())
        await make_client(hub).send(template_notification({"m": "x"}))
        assert "ServiceBusNotification-Tags" not in hub.last.headers

    async def test_apple_send_passes_apns_headers_through(self, make_client) -> None:
        hub = FakeHub(created())
        payload = {"aps": {"alert": {"title": "T", "body": "B"}, "badge": 1, "sound": "default"}, "custom": "x"}
        notification = apple_notification(payload, {"apns-push-type": "alert", "apns-priority": "10"})
        await make_client(hub).send(notification, tag_expression="user:alice")
        request = hub.last
        assert request.headers["ServiceBusNotification-Format"] == "apple"
        assert request.headers["Content-Type"] == "application/json;charset=utf-8"
        assert request.headers["apns-push-type"] == "alert"
        assert request.headers["apns-priority"] == "10"
        assert json.loads(request.content) == payload

    async def test_fcmv1_send_wraps_the_message_in_its_envelope(self, make_client) -> None:
        hub = FakeHub(created())
        message = {"notification": {"title": "T", "body": "B"}, "data": {"k": "v"}, "android": {"priority": "high"}}
        await make_client(hub).send(fcmv1_notification(message), tag_expression="platform:fcmv1")
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
        self, make_client, wns_type: str, body: str, content_type: str
    ) -> None:
        hub = FakeHub(created())
        await make_client(hub).send(windows_notification(body, wns_type))
        assert hub.last.headers["ServiceBusNotification-Format"] == "windows"
        assert hub.last.headers["X-WNS-Type"] == wns_type
        assert hub.last.headers["Content-Type"] == content_type
        assert hub.last.content == body.encode()

    async def test_direct_send_names_the_device_handle(self, make_client) -> None:
        hub = FakeHub(created(f"{HUB_URL}/messages/{NOTIFICATION_ID}?api-version=2020-06&direct"))
        result = await make_client(hub).send_direct(apple_notification({"aps": {"alert": "x"}}), "00FC13AD")
        assert hub.last.url.path == "/myhub/messages"
        assert query_of(hub.last) == "api-version=2020-06&direct"
        assert hub.last.headers["ServiceBusNotification-DeviceHandle"] == "00FC13AD"
        assert "ServiceBusNotification-Tags" not in hub.last.headers
        assert result.notification_id == NOTIFICATION_ID

    async def test_batch_direct_send_posts_the_documented_multipart_body(self, make_client) -> None:
        hub = FakeHub(created(f"{HUB_URL}/messages/$batch/{NOTIFICATION_ID}?api-version=2020-06&direct"))
        notification = apple_notification('{"aps":{"alert":"x"}}', {"apns-push-type": "alert"})
        result = await make_client(hub).send_direct_batch(notification, ["handle1", "handle2"])
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

    async def test_batch_location_without_an_id_gives_no_notification_id(self, make_client) -> None:
        hub = FakeHub(created(f"{HUB_URL}/messages/$batch?api-version=2020-06&direct"))
        result = await make_client(hub).send_direct_batch(template_notification({"a": "b"}), ["h"])
        assert result.notification_id is None

    async def test_scheduled_send_sets_the_utc_schedule_time(self, make_client) -> None:
        scheduled_id = "af14e491_20181107001832_33331921_17_QNHQueue-S68116944391983712"
        hub = FakeHub(created(f"{HUB_URL}/schedulednotifications/{scheduled_id}?api-version=2020-06"))
        at = datetime(2023, 11, 15, 9, 30, tzinfo=UTC).astimezone(tz=None)  # any zone goes out as UTC
        result = await make_client(hub).schedule(template_notification({"a": "b"}), at, tag_expression="topic:hr")
        assert hub.last.method == "POST"
        assert hub.last.url.path == "/myhub/schedulednotifications"
        assert hub.last.headers["ServiceBusNotification-ScheduleTime"] == "2023-11-15T09:30:00.000Z"
        assert hub.last.headers["ServiceBusNotification-Tags"] == "topic:hr"
        assert result.scheduled_id == scheduled_id

    async def test_cancel_deletes_the_scheduled_notification(self, make_client) -> None:
        hub = FakeHub(nh_reply(200))
        result = await make_client(hub).cancel_scheduled("sched-1")
        assert hub.last.method == "DELETE"
        assert hub.last.url.path == "/myhub/schedulednotifications/sched-1"
        assert_common_headers(hub.last)
        assert result.correlation_id == "correlation-1"

    async def test_test_send_parses_the_notification_outcome(self, make_client) -> None:
        hub = FakeHub(nh_reply(201, body=(DATA / "nh_notification_outcome.xml").read_bytes()))
        outcome = await make_client(hub).test_send(template_notification({"a": "b"}), tag_expression="t")
        assert query_of(hub.last) == "api-version=2020-06&test"
        assert (outcome.success, outcome.failure) == (1, 1)
        assert [r.application_platform for r in outcome.results] == ["apple", "fcmv1"]
        assert outcome.results[0].registration_id == "849523884231660601-248604613279522266-3"
        assert outcome.results[0].outcome == "The Push Notification System handle for the registration is invalid"

    async def test_test_send_reads_an_empty_outcome_when_results_are_nil(self, make_client) -> None:
        body = (
            b'<NotificationOutcome xmlns="http://schemas.microsoft.com/netservices/2010/10/servicebus/connect" '
            b'xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><Success>0</Success><Failure>0</Failure>'
            b'<Results i:nil="true"/></NotificationOutcome>'
        )
        outcome = await make_client(FakeHub(nh_reply(201, body=body))).test_send(template_notification({"a": "b"}))
        assert (outcome.success, outcome.failure, outcome.results) == (0, 0, [])

    async def test_notification_details_parse_every_outcome_counts_container(self, make_client) -> None:
        hub = FakeHub(nh_reply(200, body=(DATA / "nh_notification_details.xml").read_bytes()))
        details = await make_client(hub).get_notification_details(NOTIFICATION_ID)
        assert hub.last.method == "GET"
        assert hub.last.url.path == f"/myhub/messages/{NOTIFICATION_ID}"
        assert details.notification_id == NOTIFICATION_ID
        assert details.state == "Completed"
        assert details.enqueue_time == "2015-11-02T21:19:43Z"
        assert details.body == '{"aps":{"alert":"Hello & welcome"}}'
        assert details.tags == "topic:hr"
        assert details.target_platforms == "apple,windows,fcmv1"
        assert details.outcome_counts == {
            "apns": {"Success": 2, "WrongToken": 1},
            "wns": {"Success": 3},
            "fcmv1": {"Success": 4, "ExpiredChannel": 1},
            "browser": {"BadChannel": 1},
        }
        assert details.pns_error_details_uri is not None

    async def test_send_fails_when_nh_answers_200_instead_of_201(self, make_client) -> None:
        with pytest.raises(NhRequestError) as caught:
            await make_client(FakeHub(nh_reply(200))).send(template_notification({"a": "b"}))
        assert caught.value.status_code == 200


class TestErrorMapping:
    @pytest.mark.parametrize(
        ("status", "headers", "error_class"),
        [
            (400, {}, NhInvalidRequestError),
            (401, {}, NhAuthenticationError),
            (403, {}, NhForbiddenError),
            (403, {"Retry-After": "7"}, NhThrottledError),
            (404, {}, NhNotFoundError),
            (413, {}, NhInvalidRequestError),
            (429, {"Retry-After": "3"}, NhThrottledError),
            (408, {}, NhTransientError),
            (500, {}, NhTransientError),
            (503, {}, NhTransientError),
            (504, {}, NhTransientError),
            (409, {}, NhRequestError),
        ],
    )
    async def test_each_documented_status_raises_its_error_class(
        self, make_client, status: int, headers: dict[str, str], error_class: type[NhRequestError]
    ) -> None:
        hub = FakeHub(nh_reply(status, body=error_body(status, "Some detail.TrackingId:x"), headers=headers))
        with pytest.raises(error_class) as caught:
            await make_client(hub, RetryPolicy.never()).send(template_notification({"a": "b"}))
        assert type(caught.value) is error_class
        assert caught.value.status_code == status
        assert caught.value.detail == "Some detail.TrackingId:x"
        assert caught.value.tracking_id == "tracking-from-nh"

    async def test_403_without_retry_after_means_missing_rights_with_an_empty_body(self, make_client) -> None:
        hub = FakeHub(nh_reply(403))
        with pytest.raises(NhForbiddenError) as caught:
            await make_client(hub).send_direct(template_notification({"a": "b"}), "h")
        assert caught.value.detail is None
        assert len(hub.requests) == 1

    async def test_403_with_retry_after_is_throttling_with_its_delay(self, make_client) -> None:
        hub = FakeHub(nh_reply(403, headers={"Retry-After": "12"}))
        with pytest.raises(NhThrottledError) as caught:
            await make_client(hub, RetryPolicy.never()).send(template_notification({"a": "b"}))
        assert caught.value.retry_after == 12.0

    async def test_400_carries_nh_error_detail_in_the_message(self, make_client) -> None:
        detail = "The provided tag expression is invalid.TrackingId:abc,TimeStamp:1/1/2024 1:00:00 AM"
        hub = FakeHub(nh_reply(400, body=error_body(400, detail)))
        with pytest.raises(NhInvalidRequestError, match="provided tag expression is invalid") as caught:
            await make_client(hub).send(template_notification({"a": "b"}))
        assert caught.value.detail == detail

    async def test_401_keeps_the_expired_token_detail(self, make_client) -> None:
        hub = FakeHub(nh_reply(401, body=error_body(401, "ExpiredToken: .TrackingId:t")))
        with pytest.raises(NhAuthenticationError) as caught:
            await make_client(hub).get_installation("inst-1")
        assert caught.value.detail == "ExpiredToken: .TrackingId:t"
        assert len(hub.requests) == 1

    @pytest.mark.parametrize(
        "exc",
        [httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.RemoteProtocolError("dropped")],
    )
    async def test_network_failures_raise_transient_errors_from_the_httpx_cause(self, make_client, exc) -> None:
        hub = FakeHub(exc)
        with pytest.raises(NhTransientError) as caught:
            await make_client(hub, RetryPolicy.never()).delete_installation("inst-1")
        assert caught.value.__cause__ is exc


class TestRetries:
    async def test_a_throttled_send_is_retried_after_retry_after_then_succeeds(self, make_client, timer) -> None:
        hub = FakeHub(nh_reply(429, headers={"Retry-After": "2"}), created())
        result = await make_client(hub).send(template_notification({"a": "b"}))
        assert result.notification_id == NOTIFICATION_ID
        assert timer.delays == [2.0]
        assert len(hub.requests) == 2
        assert hub.requests[0].headers["TrackingId"] == hub.requests[1].headers["TrackingId"]

    async def test_retry_after_as_an_http_date_is_honoured(self, make_client, timer) -> None:
        when = format_datetime(datetime.fromtimestamp(NOW + 5, UTC), usegmt=True)
        hub = FakeHub(nh_reply(503, headers={"Retry-After": when}), created())
        await make_client(hub).send(template_notification({"a": "b"}))
        assert timer.delays == [5.0]

    async def test_5xx_is_retried_with_exponential_backoff_until_attempts_run_out(self, make_client, timer) -> None:
        hub = FakeHub(nh_reply(503))
        with pytest.raises(NhTransientError):
            await make_client(hub).send(template_notification({"a": "b"}))
        assert len(hub.requests) == 4
        assert timer.delays == [0.5, 1.0, 2.0]

    async def test_retrying_stops_within_the_total_budget(self, make_client, timer) -> None:
        policy = RetryPolicy(max_attempts=50, base_delay=1.0, max_delay=60.0, total_budget=10.0, jitter=0.0)
        hub = FakeHub(nh_reply(500))
        with pytest.raises(NhTransientError):
            await make_client(hub, policy).send(template_notification({"a": "b"}))
        assert timer.delays == [1.0, 2.0, 4.0]  # the next 8 s wait would end after 15 s > 10 s
        assert sum(timer.delays) <= policy.total_budget

    async def test_retry_after_beyond_the_budget_raises_the_throttling_error_at_once(self, make_client, timer) -> None:
        hub = FakeHub(nh_reply(429, headers={"Retry-After": "120"}), created())
        with pytest.raises(NhThrottledError) as caught:
            await make_client(hub).send(template_notification({"a": "b"}))
        assert caught.value.retry_after == 120.0
        assert timer.delays == []
        assert len(hub.requests) == 1

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
    async def test_client_errors_are_never_retried(self, make_client, timer, status: int) -> None:
        hub = FakeHub(nh_reply(status), created())
        with pytest.raises(NhRequestError):
            await make_client(hub).send(template_notification({"a": "b"}))
        assert len(hub.requests) == 1
        assert timer.delays == []

    @pytest.mark.parametrize("exc", [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")])
    async def test_timeouts_and_connect_errors_are_retried(self, make_client, timer, exc) -> None:
        hub = FakeHub(exc, nh_reply(200))
        await make_client(hub).create_or_update_installation(installation())
        assert len(hub.requests) == 2
        assert timer.delays == [0.5]


TEMPLATE = template_notification({"a": "b"})
IN_8_DAYS = datetime.fromtimestamp(NOW, UTC) + timedelta(days=8)


Call = Callable[[NotificationHubsClient], Awaitable[object]]


def put(**fields: Any) -> Call:
    values = {"installation_id": "i", "platform": "apns", "push_channel": "h", **fields}
    return lambda client: client.create_or_update_installation(Installation(**values))


def send(notification: Notification, tag_expression: str | None = None) -> Call:
    return lambda client: client.send(notification, tag_expression=tag_expression)


class TestClientSideValidation:
    """Each case must raise NhValidationError naming the place at fault, with no request sent."""

    @pytest.mark.parametrize(
        ("call", "where"),
        [
            (put(installation_id="bad id"), "installationId"),
            (put(platform="nokia"), "platform"),
            (put(tags=["bad tag"]), "tags"),
            (put(tags=[f"t{n}" for n in range(61)]), "tags"),
            (put(templates={"t": InstallationTemplate(body='{"a": ')}), "templates/t/body"),
            (put(templates={"t": InstallationTemplate(body='{"a": "$(x"}')}), "templates/t/body"),
            (put(platform="wns", templates={"t": InstallationTemplate(body='{"a": "b"}')}), "templates/t/body"),
            (put(push_variables={"v": "x" * 70_000}), "body"),
            (lambda c: c.get_installation("a/b"), "installation_id"),
            (lambda c: c.delete_installation("a b"), "installation_id"),
            (lambda c: c.patch_installation("i", []), "patch"),
            (lambda c: c.patch_installation("i", [PatchOperation("move", "/tags", "x")]), "patch[0]/op"),  # type: ignore[arg-type]
            (lambda c: c.patch_installation("i", [PatchOperation("add", "/colour", "x")]), "patch[0]/path"),
            (lambda c: c.patch_installation("i", [PatchOperation("add", "/tags", "bad tag")]), "patch[0]/value"),
            (lambda c: c.patch_installation("i", [PatchOperation("add", "/tags")]), "patch[0]/value"),
            (send(TEMPLATE, "a &&"), "ServiceBusNotification-Tags"),
            (send(TEMPLATE, " && ".join(f"t{n}" for n in range(7))), "ServiceBusNotification-Tags"),
            (send(TEMPLATE, " || ".join(f"t{n}" for n in range(21))), "ServiceBusNotification-Tags"),
            (send(template_notification({"a": "x" * 70_000})), "body"),
            (send(fcmv1_notification({"data": {"badge": 3}})), "message/data/badge"),
            (send(fcmv1_notification({"android": {"data": {"x": True}}})), "android/data/x"),
            (send(fcmv1_notification({"token": "t"})), "message/token"),
            (send(Notification("windows", "<toast/>", "application/xml")), "X-WNS-Type"),
            (send(Notification("windows", "<toast>", "application/xml", {"X-WNS-Type": "wns/toast"})), "body"),
            (
                send(Notification("windows", "<toast/>", "application/json", {"X-WNS-Type": "wns/toast"})),
                "content_type",
            ),
            (send(Notification("fcm", "{}", "application/json")), "format"),
            (
                send(apple_notification({"aps": {}}, {"ServiceBusNotification-Tags": "x"})),
                "ServiceBusNotification-Tags",
            ),
            (send(apple_notification({"aps": {}}, {"Authorization": "x"})), "Authorization"),
            (send(Notification("template", '{"a": 1}', "application/json")), "body/a"),
            (send(Notification("apple", "[1]", "application/json")), "body"),
            (lambda c: c.send_direct(TEMPLATE, ""), "handle"),
            (lambda c: c.send_direct_batch(TEMPLATE, []), "handles"),
            (lambda c: c.send_direct_batch(TEMPLATE, [f"h{n}" for n in range(1001)]), "handles"),
            (lambda c: c.schedule(TEMPLATE, IN_8_DAYS), "schedule_time"),
            (lambda c: c.schedule(TEMPLATE, datetime(2030, 1, 1)), "schedule_time"),
            (lambda c: c.cancel_scheduled(""), "scheduled_id"),
            (lambda c: c.get_notification_details("a/b"), "notification_id"),
        ],
    )
    async def test_invalid_input_raises_before_any_request(self, make_client, call, where: str) -> None:
        hub = FakeHub(created())
        with pytest.raises(NhValidationError) as caught:
            await call(make_client(hub))
        assert where in str(caught.value)
        assert hub.requests == []

    def test_template_properties_must_be_strings(self) -> None:
        with pytest.raises(NhValidationError, match="badge"):
            template_notification({"badge": 3})  # type: ignore[dict-item]

    def test_unknown_wns_types_are_refused(self) -> None:
        with pytest.raises(NhValidationError, match="X-WNS-Type"):
            windows_notification("<toast/>", "wns/banner")


class TestConnectionHandling:
    async def test_one_async_client_serves_every_call(self, make_client) -> None:
        hub = FakeHub(nh_reply(200), nh_reply(204), created())
        client = make_client(hub)
        await client.create_or_update_installation(installation())
        await client.delete_installation("inst-1")
        await client.send(template_notification({"a": "b"}))
        assert len(hub.requests) == 3

    async def test_every_request_carries_the_explicit_timeout(self, timer) -> None:
        hub = FakeHub(nh_reply(204))
        timeout = httpx.Timeout(3.0, connect=1.0)
        async with httpx.AsyncClient(transport=httpx.MockTransport(hub)) as http:
            client = NotificationHubsClient(CONNECTION_STRING, "myhub", http_client=http, timeout=timeout)
            await client.delete_installation("inst-1")
        assert hub.last.extensions["timeout"] == timeout.as_dict()

    async def test_aclose_closes_only_an_http_client_it_created(self) -> None:
        async with NotificationHubsClient(CONNECTION_STRING, "myhub") as owned:
            pass
        assert owned._http.is_closed
        given = httpx.AsyncClient()
        await NotificationHubsClient(CONNECTION_STRING, "myhub", http_client=given).aclose()
        assert not given.is_closed
        await given.aclose()

    async def test_sas_tokens_are_cached_across_requests(self, make_client) -> None:
        hub = FakeHub(nh_reply(204))
        client = make_client(hub)
        await client.delete_installation("a")
        await client.delete_installation("b")
        assert hub.requests[0].headers["Authorization"] == hub.requests[1].headers["Authorization"]

    async def test_the_key_never_shows_in_the_client_repr(self) -> None:
        async with NotificationHubsClient(CONNECTION_STRING, "myhub") as client:
            assert KEY not in repr(client)
            assert KEY not in repr(vars(client))

    @pytest.mark.parametrize("hub_name", ["", "/hub", "hub/", "my hub", "hub?x"])
    def test_a_bad_hub_name_is_a_configuration_error(self, hub_name: str) -> None:
        from shared.notification_hubs import NhConfigurationError

        with pytest.raises(NhConfigurationError):
            NotificationHubsClient(CONNECTION_STRING, hub_name)
