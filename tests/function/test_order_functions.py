"""The order-processing app through function_app's own functions, with real azure.functions objects, on Azurite and
the NH emulator: place an order over HTTP, fulfil it from the messages it published, tell the customer at each step."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import azure.functions as func
import pytest
from azure.functions.servicebus import ServiceBusMessage
from azure.functions.timer import TimerRequest

import function_app
from shared.composition.services import Services
from shared.domain.errors import UpstreamUnavailableError
from shared.domain.records import OutgoingMessage
from tests.function.conftest import Emulator, body_of, call, put_installation

pytestmark = pytest.mark.function

MUG = {"sku": "MUG-01", "quantity": 2, "unitPrice": "12.50"}


def customer() -> str:
    return f"cust-{uuid.uuid4().hex[:10]}"


async def post_order(user: str, payload: Any, **headers: str) -> func.HttpResponse:
    return await call(function_app.place_order, "POST", "orders", user=user, json_body=payload, headers=headers)


async def get_order(user: str, order_id: str) -> func.HttpResponse:
    return await call(
        function_app.get_order, "GET", f"orders/{order_id}", user=user, route_params={"orderId": order_id}
    )


def published(services: Services) -> list[tuple[str, OutgoingMessage]]:
    return list(services.publisher.published)  # type: ignore[attr-defined]


def take_published(services: Services) -> list[OutgoingMessage]:
    messages = [message for _, message in published(services)]
    services.publisher.published.clear()  # type: ignore[attr-defined]
    return messages


def as_trigger_input(message: OutgoingMessage, delivery_count: int = 1) -> ServiceBusMessage:
    return ServiceBusMessage(
        body=message.body,
        message_id=message.message_id,
        content_type=message.content_type,
        subject=message.subject,
        application_properties=dict(message.application_properties),
        user_properties={},
        delivery_count=delivery_count,
    )


async def fulfil(message: OutgoingMessage, delivery_count: int = 1) -> None:
    await function_app.fulfil_order.build().get_user_function()(as_trigger_input(message, delivery_count))


async def push(message: OutgoingMessage) -> None:
    await function_app.dispatch_orders_event.build().get_user_function()(as_trigger_input(message))


async def run_to_the_end(services: Services, first: Sequence[OutgoingMessage]) -> list[OutgoingMessage]:
    """Play the bus: hand every message the fulfilment subscription would get to the worker, scheduled steps
    included (their wait is skipped), until nothing new is published; return every message published."""
    queue, seen = list(first), list(first)
    while queue:
        message = queue.pop(0)
        if message.application_properties.get("origin") == "shop" and message.subject in (
            "orders.order.placed",
            "orders.fulfilment.step",
        ):
            await fulfil(message)
            new = take_published(services)
            queue += new
            seen += new
    return seen


class TestPlacingAnOrder:
    async def test_an_order_is_accepted_with_202_a_location_and_status_placed(self, services: Services):
        user = customer()
        response = await post_order(user, {"items": [MUG], "currency": "EUR"})
        assert response.status_code == 202, response.get_body()
        order = body_of(response)
        assert order["status"] == "placed"
        assert order["total"] == "25.00"
        assert response.headers["Location"] == f"/api/orders/{order['orderId']}"
        [(topic, message)] = published(services)
        assert topic == "orders"
        assert message.message_id == f"/lob/orders#{order['orderId']}:placed"
        assert message.subject == "orders.order.placed"
        assert message.application_properties["origin"] == "shop"
        event = json.loads(message.body)
        assert event["data"] == {"orderId": order["orderId"], "customerId": user, "total": "25.00", "currency": "EUR"}

    async def test_a_retried_post_with_the_same_idempotency_key_returns_the_same_order(self, services: Services):
        user, key = customer(), str(uuid.uuid4())
        first = await post_order(user, {"items": [MUG], "currency": "EUR"}, **{"Idempotency-Key": key})
        again = await post_order(user, {"items": [MUG], "currency": "EUR"}, **{"Idempotency-Key": key})
        assert (first.status_code, again.status_code) == (202, 202)
        assert body_of(again)["orderId"] == body_of(first)["orderId"]
        assert again.headers["Idempotent-Replayed"] == "true"
        assert len(published(services)) == 1
        listed = await call(function_app.list_my_orders, "GET", "me/orders", user=user)
        assert len(body_of(listed)["orders"]) == 1

    async def test_the_same_key_with_another_order_is_a_409(self, services: Services):
        user, key = customer(), "key-" + uuid.uuid4().hex
        await post_order(user, {"items": [MUG], "currency": "EUR"}, **{"Idempotency-Key": key})
        other = await post_order(
            user, {"items": [{**MUG, "quantity": 3}], "currency": "EUR"}, **{"Idempotency-Key": key}
        )
        assert other.status_code == 409
        assert other.mimetype == "application/problem+json"

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({"items": [], "currency": "EUR"}, "/items"),
            ({"items": [{**MUG, "quantity": 0}], "currency": "EUR"}, "/items/0/quantity"),
            ({"items": [{**MUG, "quantity": 101}], "currency": "EUR"}, "/items/0/quantity"),
            ({"items": [{**MUG, "quantity": "2"}], "currency": "EUR"}, "/items/0/quantity"),
            ({"items": [{**MUG, "unitPrice": 12.5}], "currency": "EUR"}, "/items/0/unitPrice"),
            ({"items": [{**MUG, "unitPrice": "-1"}], "currency": "EUR"}, "/items/0/unitPrice"),
            ({"items": [{**MUG, "unitPrice": "12.505"}], "currency": "EUR"}, "/items/0/unitPrice"),
            ({"items": [MUG], "currency": "XXQ"}, "/currency"),
            ({"items": [MUG], "currency": "eur"}, "/currency"),
            ({"items": [MUG], "currency": "EUR", "total": "25.00"}, "/total"),
            ({"items": [{**MUG, "unitPrice": "0.00"}], "currency": "EUR"}, "/items/0/unitPrice"),
            ({"items": [{**MUG, "unitPrice": "100000.01"}], "currency": "EUR"}, "/items/0/unitPrice"),
            ({"items": [{**MUG, "unitPrice": "12.5"}], "currency": "JPY"}, "/items/0/unitPrice"),
            ({"items": [{**MUG, "sku": f"S{i}"} for i in range(21)], "currency": "EUR"}, "/items"),
            ({"items": [MUG], "currency": "EUR", "customerId": "someone-else"}, "/customerId"),
        ],
    )
    async def test_a_malformed_order_is_a_400_naming_the_field(self, services: Services, payload: Any, field: str):
        response = await post_order(customer(), payload)
        assert response.status_code == 400, response.get_body()
        assert response.mimetype == "application/problem+json"
        assert field in [error["location"] for error in body_of(response)["errors"]]
        assert published(services) == []

    async def test_an_oversized_body_is_a_413_and_not_json_a_415(self, services: Services):
        big = {"items": [MUG], "currency": "EUR", "note": "x" * 10_000}
        assert (await post_order(customer(), big)).status_code == 413
        raw = await call(function_app.place_order, "POST", "orders", user="u", body=b"items=1")
        assert raw.status_code == 415
        assert raw.mimetype == "application/problem+json"

    async def test_without_a_signed_in_customer_it_is_a_401(self, services: Services):
        response = await call(function_app.place_order, "POST", "orders", json_body={"items": [MUG], "currency": "EUR"})
        assert response.status_code == 401

    async def test_an_idempotency_key_with_spaces_is_a_400(self, services: Services):
        response = await post_order(customer(), {"items": [MUG], "currency": "EUR"}, **{"Idempotency-Key": "a b"})
        assert response.status_code == 400


class TestReadingOrders:
    async def test_the_owner_reads_the_order_and_anyone_else_gets_404(self, services: Services):
        owner = customer()
        order_id = body_of(await post_order(owner, {"items": [MUG], "currency": "EUR"}))["orderId"]
        mine = await get_order(owner, order_id)
        assert mine.status_code == 200
        assert [change["status"] for change in body_of(mine)["history"]] == ["placed"]
        theirs = await get_order(customer(), order_id)
        assert theirs.status_code == 404
        assert theirs.mimetype == "application/problem+json"
        # Word for word what a stranger gets for an id that exists nowhere: nothing tells them the order exists.
        absent = await get_order(customer(), "SO-0000000000000000")
        assert theirs.get_body().decode().replace(order_id, "?") == absent.get_body().decode().replace(
            "SO-0000000000000000", "?"
        )

    @pytest.mark.parametrize("order_id", ["../x", "a" * 65, "SO-1?x=1", "%00"])
    async def test_an_id_that_cannot_be_an_order_is_a_404(self, services: Services, order_id: str):
        assert (await get_order(customer(), order_id)).status_code == 404

    async def test_my_orders_come_newest_first_in_pages(self, services: Services):
        user = customer()
        ids = [body_of(await post_order(user, {"items": [MUG], "currency": "EUR"}))["orderId"] for _ in range(3)]
        first = body_of(await call(function_app.list_my_orders, "GET", "me/orders", user=user, params={"limit": "2"}))
        assert [order["orderId"] for order in first["orders"]] == ids[::-1][:2]
        rest = await call(function_app.list_my_orders, "GET", "me/orders", user=user, params={"after": first["next"]})
        assert [order["orderId"] for order in body_of(rest)["orders"]] == ids[:1]
        assert body_of(rest)["next"] is None
        for bad in ({"limit": "0"}, {"limit": "x"}, {"after": "../"}, {"limit": ""}, {"after": ""}):
            refused = await call(function_app.list_my_orders, "GET", "me/orders", user=user, params=bad)
            assert refused.status_code == 400, bad

    async def test_the_product_list_names_each_product_in_every_language(self, services: Services):
        response = await call(function_app.list_products, "GET", "products", user=customer())
        products = body_of(response)["products"]
        assert {"sku": "MUG-01", "price": "12.50", "currency": "EUR"}.items() <= products[0].items()
        assert set(products[0]["names"]) == {"en", "de", "es"}


class TestFulfilment:
    async def test_an_order_moves_placed_confirmed_shipped_delivered_with_an_event_per_step(self, services: Services):
        user = customer()
        order_id = body_of(await post_order(user, {"items": [MUG], "currency": "EUR"}))["orderId"]
        messages = await run_to_the_end(services, take_published(services))
        order = body_of(await get_order(user, order_id))
        assert order["status"] == "delivered"
        assert [change["status"] for change in order["history"]] == ["placed", "confirmed", "shipped", "delivered"]
        events = [m.subject for m in messages if m.subject.startswith("orders.order.")]
        assert events == [f"orders.order.{s}" for s in ("placed", "confirmed", "shipped", "delivered")]
        steps = [m for m in messages if m.subject == "orders.fulfilment.step"]
        assert [m.application_properties["fulfilmentStep"] for m in steps] == ["shipped", "delivered"]
        # The waits are scheduled messages, due the settings' wait after the move (1 h and 1 day by default).
        moved_at = {c["status"]: datetime.fromisoformat(c["at"]) for c in order["history"]}
        assert steps[0].scheduled_enqueue_time == moved_at["confirmed"] + timedelta(hours=1)
        assert steps[1].scheduled_enqueue_time == moved_at["shipped"] + timedelta(days=1)

    async def test_a_redelivered_message_never_moves_an_order_twice(self, services: Services):
        user = customer()
        order_id = body_of(await post_order(user, {"items": [MUG], "currency": "EUR"}))["orderId"]
        [placed] = take_published(services)
        await fulfil(placed)
        after_first = take_published(services)
        await fulfil(placed, delivery_count=2)
        assert take_published(services) == []
        step = next(m for m in after_first if m.subject == "orders.fulfilment.step")
        await fulfil(step)
        take_published(services)
        for _ in range(2):
            await fulfil(step, delivery_count=3)
            await fulfil(placed, delivery_count=4)
        assert take_published(services) == []
        history = [c["status"] for c in body_of(await get_order(user, order_id))["history"]]
        assert history == ["placed", "confirmed", "shipped"]

    @pytest.mark.parametrize(
        ("item", "reason"),
        [
            ({"sku": "NOPE-99", "quantity": 1, "unitPrice": "5.00"}, "unknown_sku"),
            ({**MUG, "unitPrice": "9.99"}, "price_mismatch"),
            ({"sku": "CHAIR-06", "quantity": 2, "unitPrice": "1499.00"}, "payment_declined"),
        ],
    )
    async def test_the_rule_set_rejects_an_order_with_its_reason(self, services: Services, item: Any, reason: str):
        user = customer()
        accepted = await post_order(user, {"items": [item], "currency": "EUR"})
        assert accepted.status_code == 202
        messages = await run_to_the_end(services, take_published(services))
        order = body_of(await get_order(user, body_of(accepted)["orderId"]))
        assert order["status"] == "rejected"
        assert order["history"][-1] == {**order["history"][-1], "status": "rejected", "reason": reason}
        rejected = [m for m in messages if m.subject == "orders.order.rejected"]
        assert [json.loads(m.body)["data"]["reason"] for m in rejected] == [reason]
        assert not any(m.subject == "orders.fulfilment.step" for m in messages)

    async def test_a_sku_on_two_lines_is_two_lines_through_fulfilment_storage_and_the_view(self, services: Services):
        user = customer()
        accepted = await post_order(user, {"items": [MUG, {**MUG, "quantity": 1}], "currency": "EUR"})
        assert accepted.status_code == 202, accepted.get_body()
        assert body_of(accepted)["total"] == "37.50"
        await run_to_the_end(services, take_published(services))
        order = body_of(await get_order(user, body_of(accepted)["orderId"]))
        assert [(item["sku"], item["quantity"], item["amount"]) for item in order["items"]] == [
            ("MUG-01", 2, "25.00"),
            ("MUG-01", 1, "12.50"),
        ]
        assert (order["status"], order["total"]) == ("delivered", "37.50")

    async def test_a_total_beyond_any_former_cap_is_accepted_and_declined_by_fulfilment(self, services: Services):
        user = customer()
        lines = [{"sku": "CHAIR-06", "quantity": 100, "unitPrice": "1499.00"}] * 20
        accepted = await post_order(user, {"items": lines, "currency": "EUR"})
        assert accepted.status_code == 202, accepted.get_body()
        assert body_of(accepted)["total"] == "2998000.00"
        await run_to_the_end(services, take_published(services))
        order = body_of(await get_order(user, body_of(accepted)["orderId"]))
        assert (order["status"], order["history"][-1]["reason"]) == ("rejected", "payment_declined")

    async def test_an_order_in_another_currency_is_rejected(self, services: Services):
        user = customer()
        accepted = await post_order(user, {"items": [MUG], "currency": "USD"})
        await run_to_the_end(services, take_published(services))
        assert body_of(await get_order(user, body_of(accepted)["orderId"]))["history"][-1]["reason"] == (
            "currency_mismatch"
        )

    async def test_a_placed_event_for_an_order_that_does_not_exist_is_quarantined_not_retried(self, services: Services):
        user = customer()
        await post_order(user, {"items": [MUG], "currency": "EUR"})
        [placed] = take_published(services)
        event = json.loads(placed.body)
        event["data"]["orderId"] = "SO-DOESNOTEXIST00"
        event["id"] = "SO-DOESNOTEXIST00:placed"
        forged = OutgoingMessage(
            message_id=event["id"],
            subject=placed.subject,
            content_type=placed.content_type,
            body=json.dumps(event).encode(),
            application_properties=dict(placed.application_properties),
        )
        await fulfil(forged)  # returns: the message is completed, not handed back
        [item] = await services.quarantine.list()
        assert (item.reason, item.subscription) == ("unknown_order", "fulfilment")
        assert "SO-DOESNOTEXIST00" in item.description
        assert take_published(services) == []

    @pytest.mark.parametrize(
        ("subject", "body", "reason"),
        [
            ("orders.fulfilment.step", b"not json", "invalid_step"),
            ("orders.fulfilment.step", b'{"orderId":"SO-1","customerId":"c","to":"confirmed"}', "invalid_step"),
            ("orders.order.placed", b"{}", "not_a_cloud_event"),
        ],
    )
    async def test_a_malformed_message_is_quarantined_with_its_reason(
        self, services: Services, subject: str, body: bytes, reason: str
    ):
        message = OutgoingMessage(str(uuid.uuid4()), subject, "application/json", body, {"origin": "shop"})
        await fulfil(message)
        [item] = await services.quarantine.list()
        assert item.reason == reason


class TestTellingTheCustomer:
    async def test_each_step_reaches_the_customers_phone_in_their_language(
        self, services: Services, emulator: Emulator
    ):
        user, device = customer(), f"phone-{uuid.uuid4().hex[:8]}"
        registered = await put_installation(
            user, device, {"platform": "fcmv1", "pushChannel": "fcm_" + uuid.uuid4().hex + "Q" * 20, "language": "de"}
        )
        assert registered.status_code == 200
        await post_order(user, {"items": [MUG], "currency": "EUR"})
        messages = await run_to_the_end(services, take_published(services))
        for message in messages:
            if message.subject.startswith("orders.order."):
                await push(message)
        inbox = json.dumps(await emulator.inbox(device), ensure_ascii=False)
        for title in ("Bestellung bestätigt", "Bestellung versandt", "Bestellung zugestellt"):
            assert inbox.count(title) == 1, title


class TestOutboxRelay:
    async def test_an_order_whose_event_could_not_be_published_is_published_by_the_timer(
        self, services: Services, monkeypatch: pytest.MonkeyPatch
    ):
        recording = services.publisher

        class Unreachable:
            async def publish(self, topic: str, messages: Sequence[OutgoingMessage]) -> None:
                raise UpstreamUnavailableError("bus away")

        monkeypatch.setattr(services, "publisher", Unreachable())
        accepted = await post_order(customer(), {"items": [MUG], "currency": "EUR"})
        assert accepted.status_code == 202  # stored with its event in the outbox, so accepted
        monkeypatch.setattr(services, "publisher", recording)
        later = services.now() + timedelta(seconds=10)
        monkeypatch.setattr(services, "now", lambda: later)
        await function_app.relay_order_outbox.build().get_user_function()(TimerRequest(past_due=False))
        ids = [message.message_id for _, message in published(services)]
        assert ids == [f"/lob/orders#{body_of(accepted)['orderId']}:placed"]
        await function_app.relay_order_outbox.build().get_user_function()(TimerRequest(past_due=False))
        assert len(published(services)) == 1  # relayed once, then gone from the outbox
