"""The real-time functions with real azure.functions objects, on Azurite, the NH emulator and the SignalR stand-in:
negotiate signs a token for the caller only; the approval trigger sends in-app and schedules the fallback; the
fallback trigger pushes an unconfirmed notification once and nothing for a confirmed one; the inbox routes."""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from azure.functions.servicebus import ServiceBusMessage

import function_app
from local.signalr.config import WELL_KNOWN_ACCESS_KEY
from local.signalr.testing import RunningStandIn, serving
from shared.adapters.signalr import SignalRGateway, parse_connection_string
from shared.composition.services import Services
from shared.domain.publishing import to_outgoing_message
from shared.domain.simulated_events import simulate_event
from shared.notification_hubs.retry import RetryPolicy
from tests.conftest import random_id
from tests.fakes import RecordingPublisher
from tests.function.conftest import HUB, Emulator, body_of, call, put_installation
from tests.support.listener import listening
from tests.support.notifications import notification_of
from tests.support.services import app_services

pytestmark = pytest.mark.function

ORIGIN = "http://127.0.0.1:9099"


@pytest.fixture(scope="module")
def stand_in() -> Iterator[RunningStandIn]:
    with serving() as running:
        yield running


@pytest.fixture
async def services(azurite_tables: str, emulator: Emulator, stand_in: RunningStandIn) -> AsyncIterator[Services]:
    async with (
        httpx.AsyncClient(timeout=2.0) as http,
        app_services(
            azurite_tables,
            emulator.base_url,
            HUB,
            retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02),
            redelivery_backoff=lambda _count: 0.0,
            realtime=SignalRGateway(parse_connection_string(stand_in.connection_string), "notifications", http),
            publisher=RecordingPublisher(),
            PUSH_CORS_ORIGINS=ORIGIN,
        ) as built,
    ):
        yield built


def approval_for(user: str) -> dict[str, Any]:
    cloud_event = simulate_event(
        "finance.budget_approval.requested", random.Random(), now=datetime.now(UTC), user_ids=[user]
    )
    cloud_event["data"]["approverId"] = user
    return cloud_event


def message_of(cloud_event: dict[str, Any]) -> ServiceBusMessage:
    outgoing = to_outgoing_message(cloud_event)
    return ServiceBusMessage(
        body=outgoing.body,
        message_id=outgoing.message_id,
        content_type=outgoing.content_type,
        application_properties=dict(outgoing.application_properties),
        user_properties={},
        delivery_count=1,
    )


def fallback_of(publisher: RecordingPublisher) -> ServiceBusMessage:
    [(_topic, scheduled, _at)] = publisher.scheduled
    return ServiceBusMessage(
        body=scheduled.body,
        message_id=scheduled.message_id,
        content_type=scheduled.content_type,
        application_properties=dict(scheduled.application_properties),
        user_properties={},
        delivery_count=1,
    )


async def person() -> str:
    user = random_id("anna")
    response = await put_installation(user, f"{user}-phone", {"platform": "apns", "pushChannel": "ab" * 32})
    assert response.status_code == 200
    return user


async def dispatch(cloud_event: dict[str, Any]) -> None:
    await function_app.dispatch_finance_event.build().get_user_function()(message_of(cloud_event))


async def fallback(publisher: RecordingPublisher) -> None:
    await function_app.push_unconfirmed_notification.build().get_user_function()(fallback_of(publisher))


class TestNegotiate:
    async def test_the_token_names_the_caller_and_the_hub_and_expires(self, services: Services, stand_in):
        response = await call(function_app.negotiate, "POST", "negotiate", user="anna")
        assert response.status_code == 200
        info = body_of(response)
        assert info["url"] == f"{stand_in.base_url}/client/?hub=notifications"
        claims = jwt.decode(info["accessToken"], WELL_KNOWN_ACCESS_KEY.encode(), algorithms=["HS256"], audience=(
            "http://127.0.0.1/client/?hub=notifications"
        ))  # fmt: skip
        assert claims["asrs.s.uid"] == "anna"
        assert 0 < claims["exp"] - time.time() <= 3600

    async def test_without_an_identity_it_is_401_problem_json_with_cors_for_the_app(self, services: Services):
        response = await call(function_app.negotiate, "POST", "negotiate", headers={"Origin": ORIGIN})
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN

    async def test_preflight_answers_for_configured_origins_only(self, services: Services):
        asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-dev-user"}
        allowed = await call(function_app.negotiate, "OPTIONS", "negotiate", headers={"Origin": ORIGIN, **asked})
        other = await call(
            function_app.negotiate, "OPTIONS", "negotiate", headers={"Origin": "https://x.test", **asked}
        )
        assert allowed.status_code == other.status_code == 204
        assert allowed.headers["Access-Control-Allow-Headers"] == "x-dev-user"
        assert "Access-Control-Allow-Origin" not in other.headers


class TestTriggers:
    async def test_open_app_then_not_seen_means_one_push_from_the_fallback_trigger(
        self, services: Services, emulator: Emulator, stand_in
    ):
        user = await person()
        sent = approval_for(user)
        token = (await services.realtime.client_connection(user)).access_token
        with listening(f"{stand_in.base_url}/client/?hub=notifications", token=token) as app:
            await dispatch(sent)
            assert app.next_message(timeout=10)["id"] == notification_of(sent)
        assert await emulator.inbox(f"{user}-phone") == []
        await fallback(services.publisher)
        await fallback(services.publisher)  # redelivered: still one push
        assert len(await emulator.inbox(f"{user}-phone")) == 1
        listed = body_of(await call(function_app.list_my_notifications, "GET", "me/notifications", user=user))
        assert listed["items"][0]["channels"] == ["inapp", "push"]

    async def test_seen_before_the_fallback_means_no_push(self, services: Services, emulator: Emulator, stand_in):
        user = await person()
        sent = approval_for(user)
        token = (await services.realtime.client_connection(user)).access_token
        with listening(f"{stand_in.base_url}/client/?hub=notifications", token=token) as app:
            await dispatch(sent)
            notification = app.next_message(timeout=10)["id"]  # what the app marks seen is what it received
        route = {"id": notification}
        path = f"me/notifications/{notification}/seen"
        seen = await call(function_app.mark_notification_seen, "POST", path, user=user, route_params=route)
        assert seen.status_code == 200
        assert body_of(seen)["seenAt"] is not None
        await fallback(services.publisher)
        assert await emulator.inbox(f"{user}-phone") == []

    async def test_read_by_another_user_is_404(self, services: Services, emulator: Emulator):
        user = await person()
        sent = approval_for(user)
        await dispatch(sent)  # no connection: pushed at once, listed in the inbox
        [pushed] = await emulator.inbox(f"{user}-phone")
        notification = json.loads(pushed["payload"])["notificationId"]  # what the app marks read is what it got
        assert notification == notification_of(sent)
        route = {"id": notification}
        path = f"me/notifications/{notification}/read"
        other = await call(function_app.mark_notification_read, "POST", path, user="mallory", route_params=route)
        mine = await call(function_app.mark_notification_read, "POST", path, user=user, route_params=route)
        assert (other.status_code, mine.status_code) == (404, 200)
        assert body_of(mine)["readAt"] == body_of(mine)["seenAt"]
        assert body_of(mine)["channels"] == ["push"]
        assert json.loads(other.get_body())["status"] == 404
