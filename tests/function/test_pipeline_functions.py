"""The event pipeline through function_app's Service Bus triggers with real ServiceBusMessage objects,
on Azurite and the NH emulator: the right devices, their language, exactly once, poison quarantined."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from azure.functions.servicebus import ServiceBusMessage

import function_app
from bench import batch_dispatch
from shared.adapters.nh_gateway import NotificationHubsGateway
from shared.composition.services import Services
from shared.domain.events import event_key
from shared.domain.publishing import to_outgoing_message, topic_for
from shared.domain.simulated_events import simulate_event
from shared.notification_hubs.client import NotificationHubsClient
from shared.notification_hubs.retry import RetryPolicy
from tests.function.conftest import Emulator, body_of, call, put_installation

pytestmark = pytest.mark.function

TRIGGERS = {
    "hr": function_app.dispatch_hr_event,
    "finance": function_app.dispatch_finance_event,
    "accounts": function_app.dispatch_accounts_event,
    "orders": function_app.dispatch_orders_event,
}
MAX_DELIVERY_COUNT = 5  # the push subscriptions' MaxDeliveryCount in infra/servicebus-topology.json
APNS = "ab" * 32
FCM = "fcm_" + "Q" * 40
WNS = "https://db5p.notify.windows.com/?token=AwYAAAB"


def cloud_event(event_type: str, **data: Any) -> dict[str, Any]:
    event = simulate_event(event_type, random.Random(), now=datetime.now(UTC), user_ids=["alice"])
    event["id"] = str(uuid.uuid4())
    event["data"].update(data)
    return event


def sb_message(
    event: dict[str, Any] | None = None, *, body: bytes | None = None, delivery_count: int = 1
) -> ServiceBusMessage:
    """The message as the Functions host hands it over (what the publisher put on the topic)."""
    outgoing = to_outgoing_message(event) if event is not None else None
    return ServiceBusMessage(
        body=body if body is not None else outgoing.body,
        message_id=outgoing.message_id if outgoing else str(uuid.uuid4()),
        content_type=outgoing.content_type if outgoing else "application/json",
        subject=outgoing.subject if outgoing else None,
        application_properties=dict(outgoing.application_properties) if outgoing else {},
        user_properties={},
        delivery_count=delivery_count,
        enqueued_time_utc=datetime.now(UTC),
    )


async def trigger(topic: str, message: ServiceBusMessage) -> None:
    await TRIGGERS[topic].build().get_user_function()(message)


async def trigger_batch(topic: str, *messages: ServiceBusMessage) -> None:
    """What a batch trigger on the topic's push subscription would do (bench.batch_dispatch.deliver_many)."""
    await batch_dispatch.deliver_many([function_app.incoming_message(message, topic, "push") for message in messages])


async def deliver_with_redelivery(event: dict[str, Any]) -> str:
    """What Service Bus does: redeliver on exception, dead-letter after MaxDeliveryCount."""
    topic = topic_for(event["type"])
    for delivery_count in range(1, MAX_DELIVERY_COUNT + 1):
        try:
            await trigger(topic, sb_message(event, delivery_count=delivery_count))
        except Exception as exc:  # any exception abandons the message, as in the host
            last_error = type(exc).__name__
            continue
        return "completed"
    return f"dead-lettered: MaxDeliveryCountExceeded after {last_error}"


async def register(user: str, installation_id: str, platform: str, channel: str, language: str, interests=()) -> None:
    body = {"platform": platform, "pushChannel": channel, "language": language, "interests": list(interests)}
    response = await put_installation(user, installation_id, body)
    assert response.status_code == 200, response.get_body()


@pytest.fixture
async def people(services: Services, emulator: Emulator) -> None:
    """alice (iPhone, German, HR), bob (Android, Spanish, HR), carol (Windows, English, no interests)."""
    await register("alice", "alice-iphone", "apns", APNS, "de-DE", ["hr"])
    await register("bob", "bob-pixel", "fcmv1", FCM, "es", ["hr"])
    await register("carol", "carol-surface", "wns", WNS, "en-GB")


def text_of(delivery: dict[str, Any]) -> str:
    return json.dumps(delivery["payload"], ensure_ascii=False)


class TestRouting:
    async def test_a_finance_approval_reaches_only_the_approver_in_their_language(self, people, emulator: Emulator):
        event = cloud_event("finance.budget_approval.requested", approverId="alice", amount="1234.5", currency="EUR")
        await trigger("finance", sb_message(event))
        [delivery] = await emulator.deliveries()
        assert delivery["installationId"] == "alice-iphone"
        assert delivery["templateName"] == "alert"
        assert "Freigabe erforderlich" in text_of(delivery)
        assert "1.234,50\u00a0€" in text_of(delivery)

    async def test_hr_news_reaches_every_hr_follower_in_each_language(self, people, emulator: Emulator):
        event = cloud_event("hr.employee.joined", displayName="Jana Novák", team="Platform")
        await trigger("hr", sb_message(event))
        deliveries = {d["installationId"]: d for d in await emulator.deliveries()}
        assert set(deliveries) == {"alice-iphone", "bob-pixel"}
        assert "Neu im Team" in text_of(deliveries["alice-iphone"])
        assert "Nueva incorporación" in text_of(deliveries["bob-pixel"])

    async def test_a_field_the_catalog_does_not_name_never_reaches_a_device(self, people, emulator: Emulator):
        event = cloud_event("hr.employee.joined", displayName="Jana Novák", team="Platform")
        event["data"]["deepLink"] = "https://evil.example/login"  # not a catalog field: ignored, not link-checked
        await trigger("hr", sb_message(event))
        deliveries = await emulator.deliveries()
        assert {d["installationId"] for d in deliveries} == {"alice-iphone", "bob-pixel"}
        assert not any("evil.example" in text_of(delivery) for delivery in deliveries)

    async def test_a_windows_device_gets_a_toast_in_english(self, people, emulator: Emulator):
        event = cloud_event("orders.order.shipped", customerId="carol", total="99.9", currency="USD")
        await trigger("orders", sb_message(event))
        [delivery] = await emulator.deliveries()
        assert delivery["installationId"] == "carol-surface"
        assert delivery["headers"]["X-WNS-Type"] == "wns/toast"
        assert "Order shipped" in text_of(delivery)

    async def test_a_debit_under_the_threshold_reaches_nobody_and_one_above_reaches_the_owner(
        self, people, emulator: Emulator
    ):
        preferences = {"interests": ["hr"], "debitThreshold": "500"}
        response = await call(
            function_app.update_my_preferences, "PUT", "me/preferences", user="bob", json_body=preferences
        )
        assert response.status_code == 200
        await trigger("accounts", sb_message(cloud_event("accounts.debit.posted", ownerId="bob", amount="499.99")))
        assert await emulator.deliveries() == []
        await trigger("accounts", sb_message(cloud_event("accounts.debit.posted", ownerId="bob", amount="500")))
        assert [d["installationId"] for d in await emulator.deliveries()] == ["bob-pixel"]

    @pytest.mark.parametrize("event_type", sorted(__import__("shared.domain.catalog", fromlist=["CATALOG"]).CATALOG))
    async def test_every_event_type_reaches_exactly_its_audience(self, people, emulator: Emulator, event_type):
        recipient_fields = ("approverId", "requesterId", "ownerId", "customerId")
        event = cloud_event(event_type)
        for field in recipient_fields:
            if field in event["data"]:
                event["data"][field] = "alice"
        if event_type == "accounts.debit.posted":
            event["data"]["amount"] = "1000"
        await trigger(topic_for(event_type), sb_message(event))
        receivers = sorted(d["installationId"] for d in await emulator.deliveries())
        expected = ["alice-iphone", "bob-pixel"] if event_type.startswith("hr.") else ["alice-iphone"]
        assert receivers == expected
        assert all(d["payload"] for d in await emulator.deliveries())


class TestExactlyOnce:
    async def test_the_same_message_delivered_three_times_pushes_once(self, people, emulator: Emulator):
        event = cloud_event("hr.employee.left")
        for delivery_count in (1, 2, 3):
            await trigger("hr", sb_message(event, delivery_count=delivery_count))
        assert sorted(d["installationId"] for d in await emulator.deliveries()) == ["alice-iphone", "bob-pixel"]

    async def test_two_concurrent_deliveries_of_one_event_push_once(self, people, emulator: Emulator):
        event = cloud_event("finance.budget_approval.decided", requesterId="alice")
        await asyncio.gather(trigger("finance", sb_message(event)), trigger("finance", sb_message(event)))
        assert [d["installationId"] for d in await emulator.deliveries()] == ["alice-iphone"]

    async def test_one_id_from_two_systems_is_two_events_each_pushed_once(
        self, people, services: Services, emulator: Emulator
    ):
        """/lob/hr's event "42" cannot pre-empt /lob/finance's "42": both reach their devices, each exactly once."""
        news = {**cloud_event("hr.employee.joined"), "id": "42"}
        approval = {**cloud_event("finance.budget_approval.requested", approverId="carol"), "id": "42"}
        for _ in range(2):  # each delivered twice, as an at-least-once bus may
            await trigger("hr", sb_message(news))
            await trigger("finance", sb_message(approval))
        reached = sorted(d["installationId"] for d in await emulator.deliveries())
        assert reached == ["alice-iphone", "bob-pixel", "carol-surface"]
        hr_row = await services.deliveries.get("/lob/hr#42", "push")
        finance_row = await services.deliveries.get("/lob/finance#42", "push")
        assert (hr_row.state.value, hr_row.event_type) == ("sent", "hr.employee.joined")
        assert (finance_row.state.value, finance_row.event_type) == ("sent", "finance.budget_approval.requested")

    async def test_with_nh_faults_every_event_ends_delivered_once_or_dead_lettered(
        self, people, services: Services, emulator: Emulator
    ):
        """429 with Retry-After, 503, dropped connections and timeouts (latency beyond the client's timeout)."""
        fast_timeout = NotificationHubsClient(
            services.settings.nh_connection_string,
            services.settings.nh_hub_name,
            timeout=httpx.Timeout(0.5),
            retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05),
        )
        services.push, original = NotificationHubsGateway(fast_timeout), services.push
        await emulator.faults(
            {
                "seed": 11,
                "rules": [
                    {"route": "send", "rate": 0.2, "status": 429, "retryAfter": 1},
                    {"route": "send", "rate": 0.15, "status": 503},
                    {"route": "send", "rate": 0.1, "drop": True},
                    {"route": "send", "rate": 0.1, "latency": 0.8},
                ],
            }
        )
        events = [cloud_event("finance.budget_approval.requested", approverId="alice") for _ in range(12)]
        try:
            outcomes = [await deliver_with_redelivery(event) for event in events]
        finally:
            services.push = original
            await fast_timeout.aclose()
        await emulator.clear_faults()
        delivered = [d for d in await emulator.deliveries() if d["installationId"] == "alice-iphone"]
        ids = [json.dumps(d["payload"]).count(event["id"]) for event in events for d in delivered]
        per_event = {event["id"]: sum(event["id"] in json.dumps(d["payload"]) for d in delivered) for event in events}
        for event, outcome in zip(events, outcomes, strict=True):
            if outcome == "completed":
                assert per_event[event["id"]] == 1, outcome
            else:
                assert per_event[event["id"]] <= 1
                assert outcome.startswith("dead-lettered")
        assert sum(ids) == len(delivered)


class TestBatches:
    """The batch use case on the real adapters (function_app's triggers are single-message; docs/architecture.md)."""

    async def test_a_batch_pushes_each_event_once_and_quarantines_its_poison(
        self, people, services: Services, emulator: Emulator
    ):
        news = [cloud_event("hr.employee.joined") for _ in range(5)]
        batch = [sb_message(event) for event in news] + [sb_message(news[0]), sb_message(body=b"{oops")]
        await trigger_batch("hr", *batch)
        deliveries = await emulator.deliveries()
        per_event = {event["id"]: sum(event["id"] in json.dumps(d["payload"]) for d in deliveries) for event in news}
        assert per_event == {event["id"]: 2 for event in news}  # alice's iPhone and bob's Pixel follow HR
        [item] = await services.quarantine.list()
        assert item.reason == "invalid_json"
        records = [await services.deliveries.get(event_key(event["source"], event["id"]), "push") for event in news]
        assert {record.state.value for record in records if record} == {"sent"}

    async def test_a_batch_redelivered_after_a_fault_pushes_only_what_was_missing(
        self, people, services: Services, emulator: Emulator
    ):
        """NH refuses some sends for now: the batch is handed back whole, and its redelivery pushes only the rest."""
        fast = NotificationHubsClient(
            services.settings.nh_connection_string,
            services.settings.nh_hub_name,
            retry=RetryPolicy(max_attempts=1),
        )
        services.push, original = NotificationHubsGateway(fast), services.push
        events = [cloud_event("finance.budget_approval.requested", approverId="alice") for _ in range(20)]
        await emulator.faults({"seed": 3, "rules": [{"route": "send", "rate": 0.3, "status": 503}]})
        outcomes = []
        try:
            for delivery_count in range(1, MAX_DELIVERY_COUNT + 1):
                try:
                    await trigger_batch("finance", *(sb_message(e, delivery_count=delivery_count) for e in events))
                except Exception as exc:  # the host abandons the whole batch
                    outcomes.append(type(exc).__name__)
                    if delivery_count == 2:
                        await emulator.clear_faults()
                    continue
                outcomes.append("completed")
                break
        finally:
            services.push = original
            await fast.aclose()
        assert outcomes[0] != "completed"  # 30% of 20 sends failing leaves at least one behind (seeded)
        assert outcomes[-1] == "completed"
        delivered = [json.dumps(d["payload"]) for d in await emulator.deliveries()]
        assert [sum(event["id"] in payload for payload in delivered) for event in events] == [1] * len(events)


class TestPoison:
    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (b"{oops", "invalid_json"),
            (b'{"specversion":"1.0","id":"e1","source":"/lob/hr","type":"hr.unknown","data":{}}', "unknown_type"),
            (
                b'{"specversion":"1.0","id":"e2","source":"/lob/hr","type":"hr.employee.joined","data":{"team":1}}',
                "invalid_payload",
            ),
            (b'{"pad":"' + b"x" * 300_000 + b'"}', "oversized"),
        ],
    )
    async def test_poison_is_quarantined_listed_and_later_events_still_flow(
        self, people, services: Services, emulator: Emulator, body, reason
    ):
        await trigger("hr", sb_message(body=body))
        listing = await call(function_app.list_dead_letters, "GET", "deadletters", user="ops", roles="push.admin")
        [item] = body_of(listing)["items"]
        assert (item["kind"], item["reason"], item["topic"]) == ("quarantine", reason, "hr")
        assert item["description"]
        await trigger("hr", sb_message(cloud_event("hr.employee.joined")))
        assert len(await emulator.deliveries()) == 2

    async def test_an_event_on_the_bus_linking_outside_its_allowlist_is_quarantined_with_the_reason(
        self, people, services: Services, emulator: Emulator
    ):
        event = cloud_event("orders.order.shipped", customerId="carol", trackingUrl="https://evil.example/track")
        await trigger("orders", sb_message(event))
        assert await emulator.deliveries() == []
        listing = await call(function_app.list_dead_letters, "GET", "deadletters", user="ops", roles="push.admin")
        [item] = body_of(listing)["items"]
        assert (item["kind"], item["reason"], item["topic"]) == ("quarantine", "link_not_allowed", "orders")
        assert "/data/trackingUrl" in item["description"]
        stored = await services.quarantine.get(item["id"])  # the row in Tables
        assert stored is not None
        assert stored.reason == "link_not_allowed"

    async def test_dead_letter_listing_needs_the_admin_role(self, people):
        response = await call(function_app.list_dead_letters, "GET", "deadletters", user="alice")
        assert response.status_code == 403

    async def test_replaying_a_quarantined_event_republishes_it(self, people, services: Services):
        event = cloud_event("hr.employee.joined")
        await trigger("finance", sb_message(event))  # wrong topic: unroutable
        [item] = body_of(
            await call(function_app.list_dead_letters, "GET", "deadletters", user="ops", roles="push.admin")
        )["items"]
        assert item["reason"] == "unroutable"
        replay = await call(
            function_app.replay_dead_letter,
            "POST",
            f"deadletters/{item['id']}/replay",
            user="ops",
            roles="push.admin",
            route_params={"id": item["id"]},
        )
        assert replay.status_code == 202
        [(topic, message)] = services.publisher.published  # type: ignore[attr-defined]
        assert topic == "finance"
        assert json.loads(message.body)["id"] == event["id"]


async def post_event(event: dict[str, Any], user: str = "erp", roles: str = "lob.publisher") -> Any:
    """POST /api/events as a LoB system with the publisher role ("erp" may publish every source in the tests)."""
    return await call(
        function_app.publish_event,
        "POST",
        "events",
        user=user,
        roles=roles,
        headers={"Content-Type": "application/cloudevents+json"},
        body=json.dumps(event).encode(),
    )


class TestHttpsIntake:
    async def test_a_lob_system_posts_a_cloud_event_and_it_is_published_to_its_topic(self, services: Services):
        event = cloud_event("orders.order.placed", customerId="alice")
        response = await post_event(event)
        assert response.status_code == 202
        assert body_of(response) == {"id": event["id"], "type": event["type"], "topic": "orders"}
        [(topic, message)] = services.publisher.published  # type: ignore[attr-defined]
        assert (topic, message.message_id, message.subject) == ("orders", f"/lob/orders#{event['id']}", event["type"])
        properties = dict(message.application_properties)
        trace_parent = properties.pop("traceparent")
        assert properties == {"type": event["type"], "source": "/lob/orders", "Diagnostic-Id": trace_parent}

    async def test_events_the_catalog_rejects_get_problem_json(self, services: Services):
        bad = cloud_event("orders.order.placed")
        bad["data"].pop("total")
        response = await post_event(bad)
        assert response.status_code == 400
        assert any(error["location"].endswith("total") for error in body_of(response)["errors"])
        assert services.publisher.published == []  # type: ignore[attr-defined]

    async def test_publishing_needs_the_publisher_role(self, services: Services):
        response = await call(
            function_app.publish_event,
            "POST",
            "events",
            user="alice",
            headers={"Content-Type": "application/cloudevents+json"},
            body=json.dumps(cloud_event("orders.order.placed")).encode(),
        )
        assert response.status_code == 403

    async def test_a_publisher_may_publish_only_the_sources_its_role_is_scoped_to(self, services: Services):
        hr_system = {"user": "sp-hr-system", "roles": "lob.publisher,lob.publisher.hr"}
        own = await post_event(cloud_event("hr.employee.joined"), **hr_system)
        foreign = await post_event(cloud_event("finance.budget_approval.requested"), **hr_system)
        unscoped = await post_event(cloud_event("hr.employee.left"), user="sp-new-system")
        assert own.status_code == 202
        assert (foreign.status_code, foreign.mimetype) == (403, "application/problem+json")
        assert "/lob/finance" in body_of(foreign)["detail"]
        assert unscoped.status_code == 403
        assert [topic for topic, _ in services.publisher.published] == ["hr"]  # type: ignore[attr-defined]

    async def test_an_event_linking_outside_its_systems_allowlist_is_refused(self, services: Services):
        event = cloud_event("orders.order.shipped", trackingUrl="https://tracking.example.com.evil.example/t")
        event["data"]["carrier"] = "DHL, see https://www.dhl.com/x"  # an allowed address, but in text
        response = await post_event(event)
        assert (response.status_code, response.mimetype) == (400, "application/problem+json")
        errors = {error["location"]: error["message"] for error in body_of(response)["errors"]}
        assert set(errors) == {"/data/trackingUrl", "/data/carrier"}
        assert errors["/data/carrier"].endswith("put links in the link fields (trackingUrl)")
        assert services.publisher.published == []  # type: ignore[attr-defined]

    async def test_the_catalog_lists_every_type_with_schema_and_example(self, services: Services):
        response = await call(
            function_app.get_event_catalog, "GET", "events/catalog", user="erp", roles="lob.publisher"
        )
        assert response.status_code == 200
        document = json.dumps(body_of(response))
        for event_type in __import__("shared.domain.catalog", fromlist=["CATALOG"]).CATALOG:
            assert event_type in document


class TestSimulator:
    async def test_the_timer_publishes_events_of_every_topic_but_orders_when_enabled(
        self, services: Services, monkeypatch
    ):
        """The shop places real orders; the simulator invents none (they would be orders nobody stored)."""
        from azure.functions.timer import TimerRequest

        monkeypatch.setattr(services, "settings", replace(services.settings, lob_simulator_enabled=True))
        await function_app.simulate_lob_events.build().get_user_function()(TimerRequest(past_due=False))
        published = services.publisher.published  # type: ignore[attr-defined]
        assert {topic for topic, _ in published} == {"hr", "finance", "accounts"}
        for topic, message in published:
            assert topic_for(message.subject) == topic
            published = json.loads(message.body)
            assert message.message_id == f"{published['source']}#{published['id']}"

    async def test_the_timer_publishes_nothing_when_disabled(self, services: Services):
        from azure.functions.timer import TimerRequest

        assert services.settings.lob_simulator_enabled is False
        await function_app.simulate_lob_events.build().get_user_function()(TimerRequest(past_due=True))
        assert services.publisher.published == []  # type: ignore[attr-defined]
