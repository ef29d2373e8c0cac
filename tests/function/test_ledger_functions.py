"""The decision ledger, the operator console and trace propagation through function_app's own functions, with real
azure.functions objects, Azurite and the NH emulator."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest
from azure.functions.servicebus import ServiceBusMessage

import function_app
from shared.composition.services import Services
from shared.domain.decisions import Decision, Outcome, Reason
from tests.function.conftest import Emulator, body_of, call
from tests.function.test_pipeline_functions import cloud_event, register, sb_message, trigger

pytestmark = pytest.mark.function

ADMIN = {"user": "ops", "roles": "push.admin"}
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


@pytest.fixture
async def devices(services: Services, emulator: Emulator) -> None:
    """alice follows HR on her iPhone; bob has a phone and no interests; carmen has no device."""
    await register("alice", "alice-iphone", "apns", "ab" * 32, "en", ["hr"])
    await register("bob", "bob-pixel", "fcmv1", "fcm_" + "B" * 40, "en")


async def deliveries(**params: str) -> func.HttpResponse:
    return await call(function_app.list_deliveries, "GET", "deliveries", params=params, **ADMIN)


async def user_deliveries(user_id: str, **params: str) -> func.HttpResponse:
    return await deliveries(userId=user_id, **params)


async def deliver(event: dict[str, Any]) -> None:
    await trigger(event["type"].split(".")[0], sb_message(event))


class TestDeliveriesRoute:
    async def test_why_alice_was_not_told_about_a_small_debit(self, devices):
        debit = cloud_event("accounts.debit.posted", ownerId="alice", amount="9.99")
        await deliver(debit)
        response = await user_deliveries("alice")
        assert response.status_code == 200
        [item] = [i for i in body_of(response)["items"] if i["eventId"] == debit["id"]]
        assert (item["outcome"], item["reason"], item["userId"], item["channel"]) == (
            "suppressed", "below_threshold", "alice", "push",
        )  # fmt: skip
        by_event = body_of(await deliveries(eventId=debit["id"]))["items"]
        assert [(i["userId"], i["reason"]) for i in by_event] == [("alice", "below_threshold")]

    async def test_a_sent_approval_has_its_nh_notification_id_and_a_user_without_device_is_explained(self, devices):
        told = cloud_event("finance.budget_approval.requested", approverId="alice")
        untold = cloud_event("finance.budget_approval.requested", approverId="carmen")
        await deliver(told)
        await deliver(untold)
        [sent] = body_of(await deliveries(eventId=told["id"]))["items"]
        assert (sent["outcome"], sent["reason"]) == ("sent", "delivered")
        assert sent["notificationId"]
        assert len(sent["traceId"]) == 32
        [missing] = body_of(await deliveries(eventId=untold["id"]))["items"]
        assert (missing["outcome"], missing["reason"], missing["userId"]) == ("suppressed", "no_device", "carmen")

    async def test_a_broadcast_is_one_record_and_reads_per_user_as_reached_or_not_interested(self, devices):
        news = cloud_event("hr.employee.joined")
        await deliver(news)
        [record] = body_of(await deliveries(eventId=news["id"]))["items"]
        assert (record["userId"], record["audience"], record["audienceSize"]) == (None, "(topic:hr) && alert", 1)
        alice = body_of(await user_deliveries("alice"))
        bob = body_of(await user_deliveries("bob"))
        [for_alice] = [b for b in alice["broadcasts"] if b["eventId"] == news["id"]]
        [for_bob] = [b for b in bob["broadcasts"] if b["eventId"] == news["id"]]
        assert (for_alice["outcome"], for_alice["reason"]) == ("sent", "delivered")
        assert (for_bob["outcome"], for_bob["reason"]) == ("suppressed", "not_interested")

    async def test_both_is_that_users_decisions_on_that_event_and_never_anothers(self, devices):
        debit = cloud_event("accounts.debit.posted", ownerId="alice", amount="9.99")
        await deliver(debit)
        [alice] = body_of(await deliveries(eventId=debit["id"], userId="alice"))["items"]
        assert (alice["userId"], alice["reason"]) == ("alice", "below_threshold")
        bob = body_of(await deliveries(eventId=debit["id"], userId="bob"))
        assert (bob["items"], bob["broadcasts"], bob["next"]) == ([], [], None)
        assert debit["id"] not in {i["eventId"] for i in body_of(await user_deliveries("bob"))["items"]}

    async def test_both_on_a_broadcast_reads_the_one_record_for_that_user(self, devices):
        news = cloud_event("hr.employee.joined")
        await deliver(news)
        alice = body_of(await deliveries(eventId=news["id"], userId="alice"))
        bob = body_of(await deliveries(eventId=news["id"], userId="bob"))
        assert (alice["items"], bob["items"]) == ([], [])
        assert [(b["userId"], b["outcome"]) for b in alice["broadcasts"]] == [("alice", "sent")]
        assert [(b["userId"], b["reason"]) for b in bob["broadcasts"]] == [("bob", "not_interested")]

    async def test_since_after_the_event_leaves_its_decisions_out(self, devices):
        debit = cloud_event("accounts.debit.posted", ownerId="alice", amount="9.99")
        await deliver(debit)
        later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        assert body_of(await deliveries(eventId=debit["id"], since=later))["items"] == []
        assert body_of(await deliveries(eventId=debit["id"], userId="alice", since=later))["items"] == []
        assert len(body_of(await deliveries(eventId=debit["id"]))["items"]) == 1

    async def test_neither_is_the_recent_feed_newest_first(self, devices):
        first = cloud_event("accounts.debit.posted", ownerId="alice", amount="1.00")
        news = cloud_event("hr.employee.joined")
        await deliver(first)
        await deliver(news)
        page = body_of(await deliveries())
        shown = [i["eventId"] for i in page["items"]]
        assert {first["id"], news["id"]} <= set(shown)
        occurred = [datetime.fromisoformat(i["occurredAt"]) for i in page["items"]]
        assert occurred == sorted(occurred, reverse=True)
        assert page["next"] is None
        later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        assert body_of(await deliveries(since=later))["items"] == []
        assert len(body_of(await deliveries(limit="1"))["items"]) == 1

    @pytest.mark.parametrize("since", ["0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z", "1969-12-31T23:00:00Z"])
    async def test_a_since_before_every_decision_leaves_none_out(self, devices, since):
        """The earliest times the contract admits (before 1970, or pushed past year 1 by their offset) bound nothing."""
        debit = cloud_event("accounts.debit.posted", ownerId="alice", amount="9.99")
        await deliver(debit)
        for params in ({"userId": "alice"}, {"eventId": debit["id"]}, {"eventId": debit["id"], "userId": "alice"}):
            response = await deliveries(**params, since=since)
            assert response.status_code == 200, body_of(response)
            assert debit["id"] in {i["eventId"] for i in body_of(response)["items"]}, params
        assert (await deliveries(since=since)).status_code == 200

    @pytest.mark.parametrize("params", [{}, {"userId": "alice"}, {"eventId": "e1"}, {"eventId": "e1", "userId": "a"}])
    async def test_a_since_after_the_last_year_is_an_empty_answer(self, services, params):
        response = await deliveries(**params, since="9999-12-31T23:59:59-01:00")
        assert response.status_code == 200, body_of(response)
        assert body_of(response)["items"] == []

    async def test_a_cursor_on_the_feed_is_past_its_one_page(self, devices):
        await deliver(cloud_event("accounts.debit.posted", ownerId="alice", amount="1.00"))
        response = await deliveries(cursor="0")
        assert response.status_code == 200
        assert (body_of(response)["items"], body_of(response)["next"]) == ([], None)

    @pytest.mark.parametrize(
        "params", [{}, {"eventId": "x"}, {"userId": "x"}, {"eventId": "x", "userId": "x"}], ids=lambda p: "+".join(p)
    )
    async def test_only_push_admins_read_the_ledger(self, services, params):
        response = await call(function_app.list_deliveries, "GET", "deliveries", user="alice", params=params)
        assert response.status_code == 403
        assert response.mimetype == "application/problem+json"
        anonymous = await call(function_app.list_deliveries, "GET", "deliveries", params=params)
        assert anonymous.status_code == 401

    async def test_a_cursor_of_the_documented_shape_pages_on_from_there(self, devices):
        """Any cursor the contract admits is a position; this one is past every row, so the page is empty."""
        await deliver(cloud_event("accounts.debit.posted", ownerId="alice", amount="9.99"))
        assert body_of(await user_deliveries("alice"))["items"]
        response = await user_deliveries("alice", cursor="~")
        assert response.status_code == 200
        assert (body_of(response)["items"], body_of(response)["next"]) == ([], None)

    @pytest.mark.parametrize(
        "params",
        [
            {"eventId": "e1", "limit": "0"},
            {"eventId": "e1", "cursor": "forged cursor"},
            {"eventId": "e" * 1000},
            {"eventId": "e1", "userId": "a" * 257},
            {"userId": "alice,bob"},  # how the host hands over userId=alice&userId=bob
            {"eventId": "e1,e2"},
            {"limit": "201"},
            {"since": "yesterday"},
            {"event": "e1"},
        ],
    )
    async def test_a_bad_event_query_is_a_problem_with_the_fields_at_fault(self, services, params):
        response = await deliveries(**params)
        assert response.status_code == 400
        assert response.mimetype == "application/problem+json"
        assert body_of(response)["errors"]

    @pytest.mark.parametrize(
        "params",
        [
            {"since": "yesterday"},
            {"since": "2026-01-01T00:00:00"},  # no offset: ambiguous
            {"since": "1767225600"},  # unix seconds: pydantic alone would take them; the contract does not
            {"limit": "0"},
            {"limit": "many"},
            {"cursor": "forged/cursor"},
            {"user": "bob"},
        ],
    )
    async def test_a_bad_user_query_is_a_problem_with_the_fields_at_fault(self, services, params):
        response = await user_deliveries("alice", **params)
        assert response.status_code == 400
        assert response.mimetype == "application/problem+json"
        assert body_of(response)["errors"]

    async def test_a_user_id_longer_than_the_ledger_keeps_is_a_problem(self, services):
        response = await user_deliveries("a" * 257)
        assert response.status_code == 400
        assert body_of(response)["errors"][0]["location"] == "/userId"


class TestMyDeliveries:
    async def test_a_user_sees_their_own_decisions_and_nobody_elses(self, devices):
        debit = cloud_event("accounts.debit.posted", ownerId="alice", amount="5.00")
        await deliver(debit)
        mine = await call(function_app.list_my_deliveries, "GET", "me/deliveries", user="alice")
        assert debit["id"] in {i["eventId"] for i in body_of(mine)["items"]}
        theirs = await call(function_app.list_my_deliveries, "GET", "me/deliveries", user="bob")
        assert debit["id"] not in {i["eventId"] for i in body_of(theirs)["items"]}
        asking_for_alice = await call(
            function_app.list_my_deliveries, "GET", "me/deliveries", user="bob", params={"userId": "alice"}
        )
        assert asking_for_alice.status_code == 400

    async def test_the_earliest_since_the_contract_admits_leaves_none_of_the_callers_out(self, devices):
        debit = cloud_event("accounts.debit.posted", ownerId="alice", amount="5.00")
        await deliver(debit)
        mine = await call(
            function_app.list_my_deliveries, "GET", "me/deliveries", user="alice",
            params={"since": "0001-01-01T00:00:00+01:00"},
        )  # fmt: skip
        assert mine.status_code == 200
        assert debit["id"] in {i["eventId"] for i in body_of(mine)["items"]}


class TestConsole:
    async def test_the_page_is_for_push_admins_only(self, services):
        page = await call(function_app.operator_console, "GET", "console", **ADMIN)
        assert page.status_code == 200
        assert page.mimetype == "text/html"
        assert b'id="search-form"' in page.get_body()
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert (await call(function_app.operator_console, "GET", "console", user="alice")).status_code == 403
        assert (await call(function_app.operator_console, "GET", "console")).status_code == 401

    async def test_in_dev_mode_the_page_takes_the_identity_from_the_signin_cookies(self, services):
        cookie = {"Cookie": "ep_dev_user=ops; ep_dev_roles=push.admin"}
        assert (await call(function_app.operator_console, "GET", "console", headers=cookie)).status_code == 200
        signin = await call(function_app.operator_console_signin, "GET", "console/signin")
        assert signin.status_code == 200
        assert b'id="signin"' in signin.get_body()

    async def test_with_easy_auth_the_cookies_mean_nothing_and_there_is_no_signin_page(self, services, monkeypatch):
        monkeypatch.setattr(
            services, "settings", replace(services.settings, auth_mode=type(services.settings.auth_mode)("easyauth"))
        )
        cookie = {"Cookie": "ep_dev_user=ops; ep_dev_roles=push.admin"}
        assert (await call(function_app.operator_console, "GET", "console", headers=cookie)).status_code == 401
        assert (await call(function_app.operator_console_signin, "GET", "console/signin")).status_code == 404

    @pytest.mark.parametrize(
        ("name", "mimetype"),
        [("console.js", "text/javascript"), ("chart.umd.min.js", "text/javascript"), ("console.css", "text/css")],
    )
    async def test_the_page_files_are_served_from_the_repository_and_the_pinned_npm_package(
        self, services, name, mimetype
    ):
        response = await call(
            function_app.operator_console_asset, "GET", f"console/assets/{name}", route_params={"name": name}
        )
        assert response.status_code == 200
        assert response.mimetype == mimetype
        assert len(response.get_body()) > 500

    async def test_nothing_else_is_served_as_an_asset(self, services):
        for name in ("../host.json", "index.html", "chart.js"):
            response = await call(
                function_app.operator_console_asset, "GET", "console/assets/x", route_params={"name": name}
            )
            assert response.status_code == 404

    async def test_the_summary_has_recent_decisions_and_the_chart_series(self, devices):
        debit = cloud_event("accounts.debit.posted", ownerId="alice", amount="1.00")
        await deliver(debit)
        summary = body_of(await call(function_app.operator_console_summary, "GET", "console/summary", **ADMIN))
        assert debit["id"] in {d["eventId"] for d in summary["recent"]}
        assert set(summary["metrics"]) == {"minutes", "metrics"}


class TestTracePropagation:
    async def test_a_posted_events_traceparent_reaches_the_nh_request(self, services, devices, emulator):
        """POST /api/events with a traceparent -> the message's Diagnostic-Id -> the function -> NH's request."""
        approval = cloud_event("finance.budget_approval.requested", approverId="alice")
        parent = f"00-{TRACE_ID}-b7ad6b7169203331-01"
        response = await call(
            function_app.publish_event, "POST", "events", user="erp", roles="lob.publisher",
            headers={"Content-Type": "application/cloudevents+json", "traceparent": parent},
            body=json.dumps(approval).encode(),
        )  # fmt: skip
        assert response.status_code == 202
        [(topic, message)] = services.publisher.published  # type: ignore[attr-defined]
        assert message.application_properties["Diagnostic-Id"].split("-")[1] == TRACE_ID
        received = ServiceBusMessage(
            body=message.body, message_id=message.message_id, content_type=message.content_type,
            subject=message.subject, application_properties=dict(message.application_properties), user_properties={},
            delivery_count=1, enqueued_time_utc=datetime.now(UTC),
        )  # fmt: skip
        await trigger(topic, received)
        [delivery] = await emulator.inbox("alice-iphone")
        record = (
            await emulator.http.get(f"{emulator.base_url}_emulator/notifications/{delivery['notificationId']}")
        ).json()
        assert record["trace_parent"].split("-")[1] == TRACE_ID
        [decision] = body_of(await deliveries(eventId=approval["id"]))["items"]
        assert decision["traceId"] == TRACE_ID


class TestRetention:
    async def test_the_daily_timer_deletes_decisions_past_their_retention(self, services):
        assert services.ledger is not None
        now = datetime.now(UTC)
        old = Decision(
            event_id="evt-old", outcome=Outcome.SENT, reason=Reason.DELIVERED, user_id="zoe",
            occurred_at=now - timedelta(days=40), decided_at=now - timedelta(days=40),
        )  # fmt: skip
        await services.ledger.record(old)
        await services.ledger.record(replace(old, event_id="evt-new", occurred_at=now, decided_at=now))
        await function_app.sweep_decision_ledger.build().get_user_function()(None)
        assert (await services.ledger.for_event("evt-old", limit=5)).items == []
        assert len((await services.ledger.for_event("evt-new", limit=5)).items) == 1
