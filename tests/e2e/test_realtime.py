"""Real-time delivery through the whole stack: Microsoft's official SignalR client connects through the app's
/api/negotiate to the stand-in; LoB events reach an open app in-app and a closed one as a push; a notification that
is not confirmed in time is pushed exactly once, also across a crash of the host during the wait."""

from __future__ import annotations

import signal
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from shared.domain.device_templates import collapse_id
from shared.domain.events import event_key
from tests.e2e.api_client import ApiClient, event, payload_text
from tests.support.listener import listening
from tests.support.notifications import notification_of
from tests.support.stack import Stack, poll, settle

pytestmark = pytest.mark.e2e

FALLBACK_SECONDS = 3.0  # PUSH_INAPP_FALLBACK_SECONDS of the test stack


def person(client: ApiClient) -> str:
    user = "anna" + uuid.uuid4().hex[:8]
    response = client.register(
        user, f"{user}-iphone", platform="apns", pushChannel=uuid.uuid4().hex * 2, language="de-DE"
    )
    assert response.status_code == 200, response.text
    return user


def approval_for(user: str) -> dict[str, Any]:
    return event(
        "finance.budget_approval.requested", "/lob/finance", requestId="BR-7", approverId=user, requesterId="jorge",
        requesterName="Jorge Ruiz", amount="1234.50", currency="EUR", purpose="Team offsite",
    )  # fmt: skip


def inbox_of(client: ApiClient, user: str, **params: Any) -> dict[str, Any]:
    response = client.http.get(f"{client.api}/me/notifications", headers={"X-Dev-User": user}, params=params)
    response.raise_for_status()
    return dict(response.json())


def seen(client: ApiClient, user: str, notification_id: str) -> httpx.Response:
    return client.http.post(f"{client.api}/me/notifications/{notification_id}/seen", headers={"X-Dev-User": user})


def pushes(client: ApiClient, user: str) -> list[dict[str, Any]]:
    return client.inbox(f"{user}-iphone")


class TestOfficialClientThroughTheApp:
    def test_an_open_app_gets_the_event_in_app_and_seen_in_time_means_no_push(self, client: ApiClient, stack: Stack):
        user = person(client)
        sent = approval_for(user)
        with listening(client.api, user=user) as app:
            assert client.publish(sent).status_code == 202
            message = app.next_message()
            assert message["id"] == notification_of(sent)
            assert (message["title"], message["language"]) == ("Freigabe erforderlich", "de")
            assert "1.234,50" in message["body"]
            assert message["deepLink"] == "enterprisepush://finance/approvals/BR-7"
            assert message["data"]["requestId"] == "BR-7"
            assert seen(client, user, message["id"]).status_code == 200
            settle(stack)  # the fallback, scheduled before the in-app send, came due and was settled
        assert pushes(client, user) == []
        [item] = inbox_of(client, user)["items"]
        assert (item["id"], item["channels"]) == (notification_of(sent), ["inapp"])
        assert item["seenAt"] is not None

    def test_not_seen_in_time_is_pushed_exactly_once_with_the_same_id(self, client: ApiClient, stack: Stack):
        user = person(client)
        sent = approval_for(user)
        with listening(client.api, user=user) as app:
            client.publish(sent)
            assert app.next_message()["id"] == notification_of(sent)
            delivered = poll(lambda: pushes(client, user), until=lambda found: len(found) >= 1, timeout=20)
            settle(stack)  # nothing left on the bus that could push it again
        assert len(pushes(client, user)) == 1
        assert sent["id"] in payload_text(delivered[0])
        assert notification_of(sent) in payload_text(delivered[0])
        assert delivered[0]["headers"].get("apns-collapse-id") == collapse_id(event_key(sent["source"], sent["id"]))
        [item] = inbox_of(client, user)["items"]
        assert item["channels"] == ["inapp", "push"]

    def test_a_closed_app_gets_the_push_at_once_and_nothing_in_app(self, client: ApiClient, stack: Stack):
        user = person(client)
        sent = approval_for(user)
        started = time.monotonic()
        client.publish(sent)
        delivered = poll(lambda: pushes(client, user), until=lambda found: len(found) == 1)
        assert len(delivered) == 1
        assert time.monotonic() - started < FALLBACK_SECONDS + 5
        sent_in_app = httpx.get(f"{stack.signalr}/_signalr/messages", params={"user": user}).json()
        assert sent_in_app == []

    @pytest.mark.parametrize("fault", [{"status": 503}, {"latency": 3.0}], ids=["down", "slow"])
    def test_signalr_down_or_slow_still_delivers_by_push(self, client: ApiClient, stack: Stack, fault: dict[str, Any]):
        user = person(client)
        with listening(client.api, user=user) as app:
            httpx.post(f"{stack.signalr}/_signalr/faults", json={"rules": [{"surface": "rest", **fault}]})
            try:
                client.publish(approval_for(user))
                delivered = poll(lambda: pushes(client, user), until=lambda found: len(found) == 1)
                assert app.received_nothing(within=1.0)
            finally:
                httpx.delete(f"{stack.signalr}/_signalr/faults")
        assert len(delivered) == 1

    def test_a_large_debit_reaches_the_open_app_and_the_phone_with_one_id(self, client: ApiClient):
        user = person(client)
        debit = event(
            "accounts.debit.posted", "/lob/accounts", accountId="ACC-1", ownerId=user, amount="2500.00",
            currency="EUR", merchant="Rail Europe",
        )  # fmt: skip
        with listening(client.api, user=user) as app:
            client.publish(debit)
            assert app.next_message()["id"] == notification_of(debit)
            [push] = poll(lambda: pushes(client, user), until=lambda found: len(found) == 1)
        assert notification_of(debit) in payload_text(push)
        assert push["headers"].get("apns-collapse-id") == collapse_id(event_key(debit["source"], debit["id"]))


class TestCrashDuringTheWait:
    def test_a_host_killed_during_the_wait_still_pushes_exactly_once_after_restart(
        self, client: ApiClient, stack: Stack
    ):
        user = person(client)
        sent = approval_for(user)
        with listening(client.api, user=user) as app:
            client.publish(sent)
            assert app.next_message()["id"] == notification_of(sent)
        stack.restart_devhost(signal.SIGKILL)  # the wait is a scheduled message in the bus, not a sleep
        delivered = poll(lambda: pushes(client, user), until=lambda found: len(found) >= 1, timeout=30)
        settle(stack, timeout=90)  # a message the killed host held comes back once its 1-minute lock runs out
        assert len(pushes(client, user)) == 1
        assert sent["id"] in payload_text(delivered[0])


class TestApiSecurity:
    def test_negotiate_needs_an_identity_and_answers_for_the_caller_only(self, client: ApiClient):
        anonymous = client.http.post(f"{client.api}/negotiate")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"].startswith("application/problem+json")
        answer = client.http.post(f"{client.api}/negotiate?userId=mallory", headers={"X-Dev-User": "anna"})
        assert answer.status_code == 200
        assert set(answer.json()) == {"url", "accessToken"}
        assert answer.json()["url"].endswith("/client/?hub=notifications")
        claims = jwt.decode(answer.json()["accessToken"], options={"verify_signature": False})
        assert claims["asrs.s.uid"] == "anna"  # the identity's user, whatever the request says

    def test_cors_allows_the_configured_origin_only(self, client: ApiClient, stack: Stack):
        origin = stack.emulator.rstrip("/")
        preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-dev-user"}
        allowed = client.http.options(f"{client.api}/negotiate", headers={"Origin": origin, **preflight})
        refused = client.http.options(f"{client.api}/negotiate", headers={"Origin": "https://evil.test", **preflight})
        assert allowed.headers["access-control-allow-origin"] == origin
        assert allowed.headers["access-control-allow-credentials"] == "true"
        assert "access-control-allow-origin" not in refused.headers

    def test_another_users_notification_is_404_and_absent_from_their_inbox(self, client: ApiClient):
        owner, other = person(client), person(client)
        sent = approval_for(owner)
        client.publish(sent)
        poll(lambda: inbox_of(client, owner)["items"], until=lambda items: len(items) == 1)
        refused = seen(client, other, notification_of(sent))
        assert refused.status_code == 404
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert inbox_of(client, other)["items"] == []
        assert inbox_of(client, owner)["items"][0]["seenAt"] is None

    def test_inbox_pages_newest_first(self, client: ApiClient):
        user = person(client)
        ids = []
        for _ in range(3):
            sent = approval_for(user)
            ids.append(notification_of(sent))
            client.publish(sent)
            count = len(ids)
            poll(lambda: inbox_of(client, user)["items"], until=lambda items, n=count: len(items) == n)
        first = inbox_of(client, user, limit=2)
        rest = inbox_of(client, user, limit=2, cursor=first["nextCursor"])
        assert [i["id"] for i in first["items"] + rest["items"]] == ids[::-1]
        assert rest["nextCursor"] is None
        # An empty value is refused like any other the document does not admit (the host drops it from params).
        for query in ("limit=0", "limit=", "cursor="):
            answer = client.http.get(f"{client.api}/me/notifications?{query}", headers={"X-Dev-User": user})
            assert answer.status_code == 400, query
