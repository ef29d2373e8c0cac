"""The NH client against the NH emulator over loopback HTTP: each operation, each error class, retries under faults."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from local.nh_emulator.config import (
    FULL_RULE_NAME,
    LISTEN_RULE_NAME,
    WELL_KNOWN_FULL_KEY,
    WELL_KNOWN_LISTEN_KEY,
    connection_string,
)
from shared.notification_hubs import (
    Installation,
    InstallationTemplate,
    NhAuthenticationError,
    NhForbiddenError,
    NhInvalidRequestError,
    NhNotFoundError,
    NhThrottledError,
    NhTransientError,
    NotificationHubsClient,
    PatchOperation,
    RetryPolicy,
    apple_notification,
    fcmv1_notification,
    template_notification,
    windows_notification,
)
from shared.notification_hubs.connection import parse_connection_string
from shared.notification_hubs.requester import HubRequester, hub_url
from tests.fakes import FakeTimer

pytestmark = pytest.mark.contract

HUB = "enterprise-push"
TOAST = '<toast><visual><binding template="ToastGeneric"><text id="1">Hello</text></binding></visual></toast>'


@pytest.fixture
async def admin(emulator_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A plain client for the emulator's /_emulator/ endpoints; every test starts from an empty, fault-free hub."""
    async with httpx.AsyncClient(base_url=emulator_url, timeout=5.0) as http:
        (await http.delete("/_emulator/state")).raise_for_status()
        (await http.delete("/_emulator/faults")).raise_for_status()
        yield http
        await http.delete("/_emulator/faults")


@pytest.fixture
async def make_client(emulator_url: str, admin: httpx.AsyncClient, timer: FakeTimer):
    clients: list[NotificationHubsClient] = []

    def make(
        key_name: str = FULL_RULE_NAME,
        key: str = WELL_KNOWN_FULL_KEY,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> NotificationHubsClient:
        client = NotificationHubsClient(
            connection_string(emulator_url, key_name, key),
            HUB,
            retry=retry or RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=5.0, total_budget=20.0, jitter=0.0),
            timeout=timeout or httpx.Timeout(5.0),
            sleep=timer.sleep,
            monotonic=timer.monotonic,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def client(make_client: Callable[[], NotificationHubsClient]) -> NotificationHubsClient:
    return make_client()


WNS_TEMPLATE = (
    '<toast><visual><binding template="ToastGeneric"><text id="1">$(title_en)</text></binding></visual></toast>'
)
TEMPLATE_BODIES = {"apns": '{"aps":{"alert":"$(title_en)"}}', "fcmv1": '{"message":{"data":{"t":"$(title_en)"}}}'}


def device(installation_id: str, platform: str = "apns", **fields: Any) -> Installation:
    body = TEMPLATE_BODIES.get(platform, WNS_TEMPLATE)
    values: dict[str, Any] = {
        "push_channel": f"channel-{installation_id}",
        "user_id": "alice",
        "tags": ["topic:hr", "lang:en"],
        "templates": {"alert": InstallationTemplate(body)},
        **fields,
    }
    return Installation(installation_id, platform, **values)


async def inbox(admin: httpx.AsyncClient, installation_id: str) -> list[dict[str, Any]]:
    response = await admin.get(f"/_emulator/inbox/{installation_id}")
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()
    return result


class TestInstallations:
    async def test_an_installation_round_trips_through_put_patch_get_and_delete(self, client, admin) -> None:
        await client.create_or_update_installation(device("dev-1"))
        got = await client.get_installation("dev-1")
        assert (got.platform, got.push_channel, got.user_id) == ("apns", "channel-dev-1", "alice")
        assert got.tags == ["topic:hr", "lang:en"]
        assert got.push_channel_expired is False

        await client.patch_installation(
            "dev-1", [PatchOperation("add", "/tags", "topic:finance"), PatchOperation("remove", "/userId")]
        )
        patched = await client.get_installation("dev-1")
        assert "topic:finance" in patched.tags
        assert patched.user_id is None

        await client.delete_installation("dev-1")
        await client.delete_installation("dev-1")  # already gone: still success
        with pytest.raises(NhNotFoundError) as caught:
            await client.get_installation("dev-1")
        assert caught.value.detail is not None
        assert "Installation not found" in caught.value.detail

    async def test_a_get_put_round_trip_is_accepted_when_nh_added_the_template_name_tag(self, client) -> None:
        await client.create_or_update_installation(device("dev-1"))
        again = await client.get_installation("dev-1")
        await client.create_or_update_installation(again)
        assert (await client.get_installation("dev-1")).templates.keys() == {"alert"}

    async def test_patching_a_missing_installation_raises_not_found(self, client) -> None:
        with pytest.raises(NhNotFoundError):
            await client.patch_installation("nobody", [PatchOperation("add", "/tags", "x")])


class TestSends:
    async def test_a_template_send_reaches_the_matching_device_only(self, client, admin) -> None:
        await client.create_or_update_installation(device("dev-1"))
        await client.create_or_update_installation(device("dev-2", tags=["topic:finance"]))
        result = await client.send(template_notification({"title_en": "Payslip"}), tag_expression="topic:hr && alert")
        assert result.notification_id
        assert result.tracking_id
        delivered = await inbox(admin, "dev-1")
        assert [d["notificationId"] for d in delivered] == [result.notification_id]
        assert json.loads(delivered[0]["payload"]) == {"aps": {"alert": "Payslip"}}
        assert await inbox(admin, "dev-2") == []

    async def test_native_sends_reach_devices_of_their_platform(self, client, admin) -> None:
        for installation_id, platform in [("ios", "apns"), ("android", "fcmv1"), ("win", "wns")]:
            await client.create_or_update_installation(device(installation_id, platform))
        await client.send(
            apple_notification({"aps": {"alert": "A"}}, {"apns-push-type": "alert"}), tag_expression="topic:hr"
        )
        await client.send(fcmv1_notification({"data": {"k": "v"}}), tag_expression="topic:hr")
        await client.send(windows_notification(TOAST), tag_expression="topic:hr")
        platforms = {name: [d["platform"] for d in await inbox(admin, name)] for name in ("ios", "android", "win")}
        assert platforms == {"ios": ["apns"], "android": ["fcmv1"], "win": ["wns"]}

    async def test_a_broadcast_reaches_every_device(self, client, admin) -> None:
        await client.create_or_update_installation(device("dev-1"))
        await client.create_or_update_installation(device("dev-2"))
        await client.send(apple_notification({"aps": {"alert": "all"}}))
        assert len(await inbox(admin, "dev-1")) == len(await inbox(admin, "dev-2")) == 1

    async def test_direct_and_batch_direct_sends_are_accepted(self, client) -> None:
        single = await client.send_direct(apple_notification({"aps": {"alert": "x"}}), "handle-1")
        batch = await client.send_direct_batch(apple_notification({"aps": {"alert": "x"}}), ["handle-1", "handle-2"])
        assert single.notification_id
        assert batch.notification_id
        assert batch.notification_id != "$batch"

    async def test_a_scheduled_send_can_be_cancelled_once(self, client) -> None:
        at = datetime.now(UTC) + timedelta(hours=1)
        scheduled = await client.schedule(template_notification({"title_en": "later"}), at, tag_expression="topic:hr")
        assert scheduled.scheduled_id
        await client.cancel_scheduled(scheduled.scheduled_id)
        with pytest.raises(NhNotFoundError):
            await client.cancel_scheduled(scheduled.scheduled_id)

    async def test_a_test_send_reports_each_device_outcome(self, client) -> None:
        await client.create_or_update_installation(device("dev-1"))
        outcome = await client.test_send(template_notification({"title_en": "t"}), tag_expression="topic:hr")
        assert (outcome.success, outcome.failure) == (1, 0)
        assert [r.pns_handle for r in outcome.results] == ["channel-dev-1"]

    async def test_telemetry_counts_outcomes_per_platform(self, client, admin) -> None:
        await client.create_or_update_installation(device("dev-1"))
        await client.create_or_update_installation(device("dead", push_channel="expired-handle", user_id=None))
        sent = await client.send(template_notification({"title_en": "t"}), tag_expression="topic:hr")
        assert sent.notification_id is not None
        details = await client.get_notification_details(sent.notification_id)
        assert details.notification_id == sent.notification_id
        assert details.state in ("Completed", "Processing", "Enqueued")
        assert sum(details.outcome_counts.get("apns", {}).values()) == 2
        assert details.outcome_counts["apns"].get("Success") == 1

    async def test_telemetry_for_an_unknown_notification_raises_not_found(self, client) -> None:
        with pytest.raises(NhNotFoundError):
            await client.get_notification_details("0123456789abcdef0123456789abcdef-20240101000000-1-1")


class TestErrors:
    async def test_a_listen_only_key_cannot_send(self, make_client) -> None:
        listen = make_client(LISTEN_RULE_NAME, WELL_KNOWN_LISTEN_KEY)
        await listen.create_or_update_installation(device("dev-1"))  # Listen suffices for installations
        with pytest.raises(NhForbiddenError) as caught:
            await listen.send_direct(apple_notification({"aps": {"alert": "x"}}), "handle")
        assert caught.value.status_code == 403
        assert caught.value.retry_after is None

    async def test_a_wrong_key_is_refused(self, make_client, timer) -> None:
        wrong = make_client(FULL_RULE_NAME, "bm90LXRoZS1yaWdodC1rZXktYXQtYWxsLXJlYWxseQ==")
        with pytest.raises(NhAuthenticationError) as caught:
            await wrong.get_installation("dev-1")
        assert caught.value.status_code == 401
        assert timer.delays == []

    async def test_an_invalid_expression_sent_raw_is_rejected_with_nh_detail(self, emulator_url, admin, timer) -> None:
        """Client-side validation would stop this; the client's requester alone sends it, to map the server's 400."""
        connection = parse_connection_string(connection_string(emulator_url, FULL_RULE_NAME, WELL_KNOWN_FULL_KEY))
        async with httpx.AsyncClient() as http:
            requester = HubRequester(
                connection,
                hub_url(connection, HUB),
                http,
                retry=RetryPolicy.never(),
                timeout=httpx.Timeout(5.0),
                clock=time.time,
                sleep=timer.sleep,
                monotonic=timer.monotonic,
            )
            with pytest.raises(NhInvalidRequestError) as caught:
                await requester.request(
                    "send",
                    "POST",
                    "messages",
                    content=b'{"a":"b"}',
                    headers={
                        "Content-Type": "application/json;charset=utf-8",
                        "ServiceBusNotification-Format": "template",
                        "ServiceBusNotification-Tags": "topic:hr &&",
                    },
                    expected={201},
                )
        assert caught.value.status_code == 400
        assert caught.value.detail


class TestRetriesUnderFaults:
    async def test_a_throttled_send_is_retried_after_retry_after(self, client, admin, timer) -> None:
        await set_faults(admin, {"route": "send", "status": 429, "retryAfter": 3, "times": 1})
        result = await client.send(template_notification({"title_en": "t"}))
        assert result.notification_id
        assert timer.delays == [3.0]

    async def test_a_quota_403_with_retry_after_is_retried(self, client, admin, timer) -> None:
        await set_faults(admin, {"route": "installations", "status": 403, "retryAfter": 2, "times": 1})
        await client.create_or_update_installation(device("dev-1"))
        assert timer.delays == [2.0]

    async def test_persistent_503_gives_up_after_max_attempts(self, client, admin, timer) -> None:
        await set_faults(admin, {"route": "send", "status": 503})
        with pytest.raises(NhTransientError) as caught:
            await client.send(template_notification({"title_en": "t"}))
        assert caught.value.status_code == 503
        assert timer.delays == [0.5, 1.0, 2.0]

    async def test_throttling_beyond_the_budget_is_raised_at_once(self, make_client, admin, timer) -> None:
        await set_faults(admin, {"route": "send", "status": 429, "retryAfter": 60})
        tight = make_client(retry=RetryPolicy(total_budget=10.0))
        with pytest.raises(NhThrottledError) as caught:
            await tight.send(template_notification({"title_en": "t"}))
        assert caught.value.retry_after == 60.0
        assert timer.delays == []

    async def test_a_dropped_connection_is_retried(self, client, admin, timer) -> None:
        """A send is not idempotent, so the transport never resends it on its own: the client's retry does."""
        await set_faults(admin, {"route": "send", "drop": True, "times": 1})
        result = await client.send(template_notification({"title_en": "t"}))
        assert result.notification_id
        assert timer.delays == [0.5]

    async def test_a_dropped_connection_on_an_installation_write_still_succeeds(self, client, admin, timer) -> None:
        """PUT is idempotent: aiohttp may resend it on a fresh connection itself, or the client retries it."""
        await set_faults(admin, {"route": "installations", "drop": True, "times": 1})
        await client.create_or_update_installation(device("dev-1"))
        assert (await client.get_installation("dev-1")).installation_id == "dev-1"
        assert timer.delays in ([], [0.5])

    async def test_a_timeout_is_retried(self, make_client, admin, timer) -> None:
        await set_faults(admin, {"route": "send", "latency": 0.5, "times": 1})
        impatient = make_client(timeout=httpx.Timeout(0.1))
        result = await impatient.send(template_notification({"title_en": "t"}))
        assert result.notification_id
        assert timer.delays == [0.5]


async def set_faults(admin: httpx.AsyncClient, *rules: dict[str, Any]) -> None:
    response = await admin.post("/_emulator/faults", json={"seed": 1, "rules": list(rules)})
    response.raise_for_status()
