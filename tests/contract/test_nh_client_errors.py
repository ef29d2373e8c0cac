"""How the NH client surfaces NH's answers: each status as its error class, and which failures it retries."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from shared.notification_hubs import (
    NhAuthenticationError,
    NhForbiddenError,
    NhInvalidRequestError,
    NhNotFoundError,
    NhRequestError,
    NhThrottledError,
    NhTransientError,
    RetryPolicy,
    template_notification,
)
from tests.contract.fake_hub import (
    NOTIFICATION_ID,
    NOW,
    FakeHub,
    created,
    error_body,
    installation,
    nh_reply,
)

pytestmark = pytest.mark.contract


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
        self, client_for, status: int, headers: dict[str, str], error_class: type[NhRequestError]
    ) -> None:
        hub = FakeHub(nh_reply(status, body=error_body(status, "Some detail.TrackingId:x"), headers=headers))
        with pytest.raises(error_class) as caught:
            await client_for(hub, RetryPolicy.never()).send(template_notification({"a": "b"}))
        assert type(caught.value) is error_class
        assert caught.value.status_code == status
        assert caught.value.detail == "Some detail.TrackingId:x"
        assert caught.value.tracking_id == "tracking-from-nh"

    async def test_403_without_retry_after_means_missing_rights_with_an_empty_body(self, client_for) -> None:
        hub = FakeHub(nh_reply(403))
        with pytest.raises(NhForbiddenError) as caught:
            await client_for(hub).send_direct(template_notification({"a": "b"}), "h")
        assert caught.value.detail is None
        assert len(hub.requests) == 1

    async def test_403_with_retry_after_is_throttling_with_its_delay(self, client_for) -> None:
        hub = FakeHub(nh_reply(403, headers={"Retry-After": "12"}))
        with pytest.raises(NhThrottledError) as caught:
            await client_for(hub, RetryPolicy.never()).send(template_notification({"a": "b"}))
        assert caught.value.retry_after == 12.0

    async def test_400_carries_nh_error_detail_in_the_message(self, client_for) -> None:
        detail = "The provided tag expression is invalid.TrackingId:abc,TimeStamp:1/1/2024 1:00:00 AM"
        hub = FakeHub(nh_reply(400, body=error_body(400, detail)))
        with pytest.raises(NhInvalidRequestError, match="provided tag expression is invalid") as caught:
            await client_for(hub).send(template_notification({"a": "b"}))
        assert caught.value.detail == detail

    async def test_401_keeps_the_expired_token_detail(self, client_for) -> None:
        hub = FakeHub(nh_reply(401, body=error_body(401, "ExpiredToken: .TrackingId:t")))
        with pytest.raises(NhAuthenticationError) as caught:
            await client_for(hub).get_installation("inst-1")
        assert caught.value.detail == "ExpiredToken: .TrackingId:t"
        assert len(hub.requests) == 1

    @pytest.mark.parametrize(
        "exc",
        [httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.RemoteProtocolError("dropped")],
    )
    async def test_network_failures_raise_transient_errors_from_the_httpx_cause(self, client_for, exc) -> None:
        hub = FakeHub(exc)
        with pytest.raises(NhTransientError) as caught:
            await client_for(hub, RetryPolicy.never()).delete_installation("inst-1")
        assert caught.value.__cause__ is exc


class TestRetries:
    async def test_a_throttled_send_is_retried_after_retry_after_then_succeeds(self, client_for, timer) -> None:
        hub = FakeHub(nh_reply(429, headers={"Retry-After": "2"}), created())
        result = await client_for(hub).send(template_notification({"a": "b"}))
        assert result.notification_id == NOTIFICATION_ID
        assert timer.delays == [2.0]
        assert len(hub.requests) == 2
        assert hub.requests[0].headers["TrackingId"] == hub.requests[1].headers["TrackingId"]

    async def test_retry_after_as_an_http_date_is_honoured(self, client_for, timer) -> None:
        when = format_datetime(datetime.fromtimestamp(NOW + 5, UTC), usegmt=True)
        hub = FakeHub(nh_reply(503, headers={"Retry-After": when}), created())
        await client_for(hub).send(template_notification({"a": "b"}))
        assert timer.delays == [5.0]

    async def test_5xx_is_retried_with_exponential_backoff_until_attempts_run_out(self, client_for, timer) -> None:
        hub = FakeHub(nh_reply(503))
        with pytest.raises(NhTransientError):
            await client_for(hub).send(template_notification({"a": "b"}))
        assert len(hub.requests) == 4
        assert timer.delays == [0.5, 1.0, 2.0]

    async def test_retrying_stops_within_the_total_budget(self, client_for, timer) -> None:
        policy = RetryPolicy(max_attempts=50, base_delay=1.0, max_delay=60.0, total_budget=10.0, jitter=0.0)
        hub = FakeHub(nh_reply(500))
        with pytest.raises(NhTransientError):
            await client_for(hub, policy).send(template_notification({"a": "b"}))
        assert timer.delays == [1.0, 2.0, 4.0]  # the next 8 s wait would end after 15 s > 10 s
        assert sum(timer.delays) <= policy.total_budget

    async def test_retry_after_beyond_the_budget_raises_the_throttling_error_at_once(self, client_for, timer) -> None:
        hub = FakeHub(nh_reply(429, headers={"Retry-After": "120"}), created())
        with pytest.raises(NhThrottledError) as caught:
            await client_for(hub).send(template_notification({"a": "b"}))
        assert caught.value.retry_after == 120.0
        assert timer.delays == []
        assert len(hub.requests) == 1

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
    async def test_client_errors_are_never_retried(self, client_for, timer, status: int) -> None:
        hub = FakeHub(nh_reply(status), created())
        with pytest.raises(NhRequestError):
            await client_for(hub).send(template_notification({"a": "b"}))
        assert len(hub.requests) == 1
        assert timer.delays == []

    @pytest.mark.parametrize("exc", [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")])
    async def test_timeouts_and_connect_errors_are_retried(self, client_for, timer, exc) -> None:
        hub = FakeHub(exc, nh_reply(200))
        await client_for(hub).create_or_update_installation(installation())
        assert len(hub.requests) == 2
        assert timer.delays == [0.5]
