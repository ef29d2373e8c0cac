"""The order use cases on in-memory ports: placing (idempotent, stored with its event), relaying the outbox, and
the fulfilment worker's moves, refusals, races and quarantine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.domain.errors import ConflictError, NotFoundError, UpstreamUnavailableError, ValidationError
from shared.domain.identity import Identity
from shared.domain.orders.model import OrderStatus, order_id_for
from shared.domain.records import OutgoingMessage
from shared.ports.orders import FulfilmentPorts, OrderPorts
from shared.usecases.commands import OrderItem, PlaceOrder
from shared.usecases.delivery import IncomingMessage
from shared.usecases.fulfil_order import FulfilmentResult, OrderChangedError, fulfil_message
from shared.usecases.order_queries import get_order, list_orders
from shared.usecases.place_order import place_order
from shared.usecases.relay_outbox import relay_pending
from tests.fakes import InMemoryQuarantineStore
from tests.fakes_orders import FlakyPublisher, InMemoryOrderStore

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
ALICE = Identity("alice")
MUGS = PlaceOrder(items=(OrderItem("MUG-01", 2, Decimal("12.50")),), currency="EUR")


class World:
    """The ports of both sides on one store and one publisher, with a clock the test moves."""

    def __init__(self) -> None:
        self.store = InMemoryOrderStore()
        self.publisher = FlakyPublisher()
        self.quarantine = InMemoryQuarantineStore()
        self.now = T0
        self.counter = 0

    def _next_id(self, at: datetime) -> str:
        self.counter += 1
        return order_id_for(at, self.counter)

    @property
    def ordering(self) -> OrderPorts:
        return OrderPorts(self.store, self.store, self.publisher, lambda: self.now, self._next_id)

    @property
    def fulfilment(self) -> FulfilmentPorts:
        return FulfilmentPorts(
            self.store,
            self.store,
            self.publisher,
            self.quarantine,
            lambda: self.now,
            ship_after=timedelta(seconds=30),
            deliver_after=timedelta(seconds=60),
            redelivery_backoff=lambda _count: 0.0,
        )

    def take(self) -> list[OutgoingMessage]:
        messages = [message for _, message in self.publisher.published]
        self.publisher.published.clear()
        return messages


def incoming(message: OutgoingMessage, delivery_count: int = 1) -> IncomingMessage:
    return IncomingMessage(
        topic="orders",
        subscription="fulfilment",
        message_id=message.message_id,
        body=message.body,
        content_type=message.content_type,
        subject=message.subject,
        application_properties=dict(message.application_properties),
        delivery_count=delivery_count,
    )


@pytest.fixture
def world() -> World:
    return World()


class TestPlaceOrder:
    async def test_the_order_is_stored_and_its_placed_event_published_and_cleared_from_the_outbox(self, world: World):
        placed = await place_order(world.ordering, ALICE, MUGS)
        assert placed.created
        assert placed.order.status is OrderStatus.PLACED
        assert [m.message_id for m in world.take()] == [f"/lob/orders#{placed.order.order_id}:placed"]
        assert world.store.outbox == {}

    async def test_when_the_bus_is_away_the_order_is_still_stored_with_its_event_kept_for_the_timer(self, world: World):
        world.publisher.down = UpstreamUnavailableError("away")
        placed = await place_order(world.ordering, ALICE, MUGS)
        assert await get_order(world.ordering, ALICE, placed.order.order_id) == placed.order
        assert [entry.message.message_id for entry in world.store.outbox.values()] == [
            f"/lob/orders#{placed.order.order_id}:placed"
        ]
        world.publisher.down = None
        world.now += timedelta(seconds=1)
        assert await relay_pending(world.publisher, world.store, world.now) == 0  # still within the writer's grace
        world.now += timedelta(seconds=10)
        assert await relay_pending(world.publisher, world.store, world.now) == 1
        assert [m.message_id for m in world.take()] == [f"/lob/orders#{placed.order.order_id}:placed"]
        assert world.store.outbox == {}

    async def test_the_same_idempotency_key_returns_the_first_order_and_publishes_nothing_more(self, world: World):
        keyed = PlaceOrder(MUGS.items, MUGS.currency, idempotency_key="k1")
        first = await place_order(world.ordering, ALICE, keyed)
        world.now += timedelta(seconds=3)
        again = await place_order(world.ordering, ALICE, keyed)
        assert (again.order, again.created) == (first.order, False)
        assert len(world.take()) == 1

    async def test_the_same_key_with_another_order_is_a_conflict(self, world: World):
        await place_order(world.ordering, ALICE, PlaceOrder(MUGS.items, "EUR", idempotency_key="k1"))
        other = PlaceOrder((OrderItem("MUG-01", 3, Decimal("12.50")),), "EUR", idempotency_key="k1")
        with pytest.raises(ConflictError):
            await place_order(world.ordering, ALICE, other)

    async def test_an_invalid_order_stores_and_publishes_nothing(self, world: World):
        with pytest.raises(ValidationError):
            await place_order(world.ordering, ALICE, PlaceOrder((), "EUR"))
        assert (world.store.orders, world.take()) == ({}, [])


class TestQueries:
    async def test_another_customers_order_is_not_found(self, world: World):
        placed = await place_order(world.ordering, ALICE, MUGS)
        with pytest.raises(NotFoundError):
            await get_order(world.ordering, Identity("bob"), placed.order.order_id)

    @pytest.mark.parametrize("limit", [0, 101])
    async def test_a_page_size_outside_1_to_100_is_refused(self, world: World, limit: int):
        with pytest.raises(ValidationError):
            await list_orders(world.ordering, ALICE, limit=limit, after=None)


class TestFulfilment:
    async def placed(self, world: World, command: PlaceOrder = MUGS) -> tuple[str, OutgoingMessage]:
        placed = await place_order(world.ordering, ALICE, command)
        [message] = world.take()
        return placed.order.order_id, message

    async def test_the_placed_event_confirms_the_order_and_schedules_the_ship_step(self, world: World):
        order_id, placed = await self.placed(world)
        assert await fulfil_message(incoming(placed), world.fulfilment) is FulfilmentResult.MOVED
        confirmed, step = world.take()
        assert confirmed.subject == "orders.order.confirmed"
        assert step.scheduled_enqueue_time == T0 + timedelta(seconds=30)
        assert json.loads(step.body) == {"orderId": order_id, "customerId": "alice", "to": "shipped"}

    async def test_steps_ship_then_deliver_and_nothing_follows_delivery(self, world: World):
        _, placed = await self.placed(world)
        await fulfil_message(incoming(placed), world.fulfilment)
        _, ship = world.take()
        await fulfil_message(incoming(ship), world.fulfilment)
        shipped, deliver = world.take()
        assert json.loads(shipped.body)["data"]["carrier"] == "DHL"
        assert deliver.scheduled_enqueue_time == T0 + timedelta(seconds=60)
        await fulfil_message(incoming(deliver), world.fulfilment)
        assert [m.subject for m in world.take()] == ["orders.order.delivered"]

    async def test_repeats_of_any_message_are_duplicates_that_change_nothing(self, world: World):
        order_id, placed = await self.placed(world)
        await fulfil_message(incoming(placed), world.fulfilment)
        _, ship = world.take()
        await fulfil_message(incoming(ship), world.fulfilment)
        world.take()
        for message in (placed, ship, placed):
            assert await fulfil_message(incoming(message, 2), world.fulfilment) is FulfilmentResult.DUPLICATE
        assert world.take() == []
        order = await get_order(world.ordering, ALICE, order_id)
        assert [c.status.value for c in order.history] == ["placed", "confirmed", "shipped"]

    async def test_a_step_that_arrives_before_its_turn_is_refused(self, world: World):
        _, placed = await self.placed(world)
        await fulfil_message(incoming(placed), world.fulfilment)
        _, ship = world.take()
        early_delivery = OutgoingMessage(
            "x",
            ship.subject,
            ship.content_type,
            ship.body.replace(b"shipped", b"delivered"),
            ship.application_properties,
        )
        assert await fulfil_message(incoming(early_delivery), world.fulfilment) is FulfilmentResult.DUPLICATE
        assert world.take() == []

    async def test_a_lost_race_is_handed_back_to_the_bus_and_the_redelivery_finds_the_move_done(self, world: World):
        _, placed = await self.placed(world)
        world.store.fail_next_transition = True
        with pytest.raises(OrderChangedError):
            await fulfil_message(incoming(placed), world.fulfilment)
        assert world.take() == []
        assert await fulfil_message(incoming(placed, 2), world.fulfilment) is FulfilmentResult.MOVED

    async def test_an_order_the_rules_refuse_is_rejected_with_its_reason_and_no_step(self, world: World):
        order_id, placed = await self.placed(world, PlaceOrder((OrderItem("GHOST-1", 1, Decimal("1.00")),), "EUR"))
        await fulfil_message(incoming(placed), world.fulfilment)
        [rejected] = world.take()
        assert json.loads(rejected.body)["data"]["reason"] == "unknown_sku"
        order = await get_order(world.ordering, ALICE, order_id)
        assert (order.status, order.history[-1].reason) == (OrderStatus.REJECTED, "unknown_sku")

    async def test_a_storage_outage_hands_the_message_back(self, world: World):
        _, placed = await self.placed(world)

        async def unavailable(*_args: object) -> None:
            raise UpstreamUnavailableError("tables away")

        world.store.get = unavailable  # type: ignore[method-assign]
        with pytest.raises(UpstreamUnavailableError):
            await fulfil_message(incoming(placed), world.fulfilment)
        assert await world.quarantine.list() == []

    async def test_an_event_for_an_unknown_order_is_quarantined(self, world: World):
        _, placed = await self.placed(world)
        world.store.orders.clear()
        assert await fulfil_message(incoming(placed), world.fulfilment) is FulfilmentResult.QUARANTINED
        [item] = await world.quarantine.list()
        assert item.reason == "unknown_order"

    async def test_another_event_type_is_quarantined_as_unroutable(self, world: World):
        _, placed = await self.placed(world)
        await fulfil_message(incoming(placed), world.fulfilment)
        confirmed, _ = world.take()
        assert await fulfil_message(incoming(confirmed), world.fulfilment) is FulfilmentResult.QUARANTINED
        [item] = await world.quarantine.list()
        assert item.reason == "unroutable"
