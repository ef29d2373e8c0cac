"""The NH client's scheduled sends, cancels, test sends and per-message telemetry on the wire."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.notification_hubs import (
    template_notification,
)
from tests.contract.fake_hub import (
    DATA,
    HUB_URL,
    NOTIFICATION_ID,
    FakeHub,
    assert_common_headers,
    created,
    nh_reply,
    query_of,
)

pytestmark = pytest.mark.contract


class TestScheduledSends:
    async def test_scheduled_send_sets_the_utc_schedule_time(self, client_for) -> None:
        scheduled_id = "af14e491_20181107001832_33331921_17_QNHQueue-S68116944391983712"
        hub = FakeHub(created(f"{HUB_URL}/schedulednotifications/{scheduled_id}?api-version=2020-06"))
        at = datetime(2023, 11, 15, 9, 30, tzinfo=UTC).astimezone(tz=None)  # any zone goes out as UTC
        result = await client_for(hub).schedule(template_notification({"a": "b"}), at, tag_expression="topic:hr")
        assert hub.last.method == "POST"
        assert hub.last.url.path == "/myhub/schedulednotifications"
        assert hub.last.headers["ServiceBusNotification-ScheduleTime"] == "2023-11-15T09:30:00.000Z"
        assert hub.last.headers["ServiceBusNotification-Tags"] == "topic:hr"
        assert result.scheduled_id == scheduled_id

    async def test_cancel_deletes_the_scheduled_notification(self, client_for) -> None:
        hub = FakeHub(nh_reply(200))
        result = await client_for(hub).cancel_scheduled("sched-1")
        assert hub.last.method == "DELETE"
        assert hub.last.url.path == "/myhub/schedulednotifications/sched-1"
        assert_common_headers(hub.last)
        assert result.correlation_id == "correlation-1"


class TestTestSendsAndTelemetry:
    async def test_test_send_parses_the_notification_outcome(self, client_for) -> None:
        hub = FakeHub(nh_reply(201, body=(DATA / "nh_notification_outcome.xml").read_bytes()))
        outcome = await client_for(hub).test_send(template_notification({"a": "b"}), tag_expression="t")
        assert query_of(hub.last) == "api-version=2020-06&test"
        assert (outcome.success, outcome.failure) == (1, 1)
        assert [r.application_platform for r in outcome.results] == ["apple", "fcmv1"]
        assert outcome.results[0].registration_id == "849523884231660601-248604613279522266-3"
        assert outcome.results[0].outcome == "The Push Notification System handle for the registration is invalid"

    async def test_test_send_reads_an_empty_outcome_when_results_are_nil(self, client_for) -> None:
        body = (
            b'<NotificationOutcome xmlns="http://schemas.microsoft.com/netservices/2010/10/servicebus/connect" '
            b'xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><Success>0</Success><Failure>0</Failure>'
            b'<Results i:nil="true"/></NotificationOutcome>'
        )
        outcome = await client_for(FakeHub(nh_reply(201, body=body))).test_send(template_notification({"a": "b"}))
        assert (outcome.success, outcome.failure, outcome.results) == (0, 0, [])

    async def test_notification_details_parse_every_outcome_counts_container(self, client_for) -> None:
        hub = FakeHub(nh_reply(200, body=(DATA / "nh_notification_details.xml").read_bytes()))
        details = await client_for(hub).get_notification_details(NOTIFICATION_ID)
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
