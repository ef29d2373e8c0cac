"""The orders domain: the state machine, Decimal money and its checks, ids, the fulfilment rule set, the messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.catalog import CATALOG
from shared.domain.errors import ValidationError
from shared.domain.events import parse_cloud_event
from shared.domain.orders.fulfilment import PAYMENT_LIMIT, REJECTION_REASONS, check_order
from shared.domain.orders.messages import (
    FULFILMENT_STEP_SUBJECT,
    parse_step,
    status_event,
    status_message,
    step_message,
)
from shared.domain.orders.model import (
    MAX_LINES,
    MAX_QUANTITY,
    MAX_UNIT_PRICE,
    OrderLine,
    OrderStatus,
    TransitionRefusedError,
    new_order,
    order_id_for,
)
from shared.domain.orders.products import PRODUCTS

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
MUG = OrderLine("MUG-01", 2, Decimal("12.50"))


def order(*lines: OrderLine, currency: str = "EUR"):
    return new_order("SO-1", "alice", currency, list(lines or [MUG]), T0)


def errors_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {error.location for error in excinfo.value.errors}


class TestStateMachine:
    PATH = (OrderStatus.CONFIRMED, OrderStatus.SHIPPED, OrderStatus.DELIVERED)

    def test_an_order_goes_placed_confirmed_shipped_delivered_one_step_at_a_time(self):
        current = order()
        for step, status in enumerate(self.PATH, start=1):
            current = current.moved_to(status, T0 + timedelta(minutes=step))
        assert [change.status for change in current.history] == [OrderStatus.PLACED, *self.PATH]
        assert current.status.final
        assert [change.event_id for change in current.history] == [
            "SO-1:placed",
            "SO-1:confirmed",
            "SO-1:shipped",
            "SO-1:delivered",
        ]

    def test_only_a_placed_order_can_be_rejected(self):
        rejected = order().moved_to(OrderStatus.REJECTED, T0, "unknown_sku")
        assert rejected.history[-1].reason == "unknown_sku"
        with pytest.raises(TransitionRefusedError):
            order().moved_to(OrderStatus.CONFIRMED, T0).moved_to(OrderStatus.REJECTED, T0)

    @given(st.lists(st.sampled_from(list(OrderStatus)), max_size=8))
    def test_no_sequence_of_moves_goes_backwards_skips_or_repeats_a_step(self, wanted: list[OrderStatus]):
        current = order()
        for status in wanted:
            if current.can_move_to(status):
                current = current.moved_to(status, T0)
            else:
                with pytest.raises(TransitionRefusedError):
                    current.moved_to(status, T0)
        statuses = [change.status for change in current.history]
        assert len(set(statuses)) == len(statuses)
        assert statuses in (
            [OrderStatus.PLACED, *self.PATH][: len(statuses)],
            [OrderStatus.PLACED, OrderStatus.REJECTED],
        )

    def test_a_final_order_refuses_every_move(self):
        delivered = order()
        for status in self.PATH:
            delivered = delivered.moved_to(status, T0)
        for status in OrderStatus:
            assert not delivered.can_move_to(status)


class TestMoney:
    def test_the_total_is_the_exact_decimal_sum(self):
        lines = [OrderLine("A", 3, Decimal("0.10")), OrderLine("B", 1, Decimal("0.20"))]
        assert order(*lines).total == Decimal("0.50")

    @pytest.mark.parametrize(
        ("line", "currency", "field"),
        [
            (OrderLine("A", 0, Decimal("1")), "EUR", "/items/0/quantity"),
            (OrderLine("A", 101, Decimal("1")), "EUR", "/items/0/quantity"),
            (OrderLine("A", 1, Decimal("0")), "EUR", "/items/0/unitPrice"),
            (OrderLine("A", 1, Decimal("NaN")), "EUR", "/items/0/unitPrice"),
            (OrderLine("A", 1, Decimal("100000.01")), "EUR", "/items/0/unitPrice"),
            (OrderLine("A", 1, Decimal("1.005")), "EUR", "/items/0/unitPrice"),
            (OrderLine("A", 1, Decimal("1.5")), "JPY", "/items/0/unitPrice"),
            (OrderLine("A", 1, Decimal("1")), "XXQ", "/currency"),
        ],
    )
    def test_an_invalid_line_or_currency_is_refused_naming_the_field(self, line, currency, field):
        with pytest.raises(ValidationError) as excinfo:
            order(line, currency=currency)
        assert field in errors_of(excinfo)

    def test_trailing_zeros_are_not_extra_precision(self):
        assert order(OrderLine("A", 1, Decimal("12.500"))).total == Decimal("12.5")

    def test_too_many_lines_are_refused(self):
        with pytest.raises(ValidationError) as too_many:
            order(*[OrderLine(f"S{i}", 1, Decimal("1")) for i in range(MAX_LINES + 1)])
        assert "/items" in errors_of(too_many)

    def test_a_sku_may_come_on_several_lines_and_the_total_is_not_capped(self):
        assert order(MUG, MUG).lines == (MUG, MUG)
        biggest = order(*[OrderLine(f"S{i}", MAX_QUANTITY, MAX_UNIT_PRICE) for i in range(MAX_LINES)])
        assert biggest.total == MAX_LINES * MAX_QUANTITY * MAX_UNIT_PRICE


class TestOrderIds:
    def test_later_orders_sort_first(self):
        earlier, later = order_id_for(T0, 5), order_id_for(T0 + timedelta(milliseconds=1), 5)
        assert later < earlier
        assert len(earlier) == len(later) == 19

    def test_the_nonce_tells_orders_of_one_millisecond_apart(self):
        assert order_id_for(T0, 1) != order_id_for(T0, 2)


class TestFulfilmentRules:
    def test_an_order_of_listed_products_at_list_price_under_the_limit_is_confirmed(self):
        assert check_order(order()) is None

    @pytest.mark.parametrize(
        ("line", "currency", "reason"),
        [
            (OrderLine("NOPE", 1, Decimal("1")), "EUR", "unknown_sku"),
            (MUG, "USD", "currency_mismatch"),
            (OrderLine("MUG-01", 1, Decimal("12.49")), "EUR", "price_mismatch"),
            (OrderLine("CHAIR-06", 2, Decimal("1499.00")), "EUR", "payment_declined"),
        ],
    )
    def test_each_rule_names_its_reason(self, line, currency, reason):
        assert check_order(order(line, currency=currency)) == reason

    def test_an_order_under_the_payment_limit_is_confirmed(self):
        desk = PRODUCTS["DESK-05"]
        at_limit = OrderLine(desk.sku, 2, desk.price)
        under = order(at_limit, OrderLine("BOTTLE-04", 1, Decimal("18.75")))
        assert under.total <= PAYMENT_LIMIT
        assert check_order(under) is None

    def test_every_reason_has_its_catalog_text(self):
        assert set(REJECTION_REASONS) == set(
            CATALOG["orders.order.rejected"].payload.model_fields["reason"].annotation.__args__
        )


class TestMessages:
    @pytest.mark.parametrize("status", [s for s in OrderStatus if s is not OrderStatus.PLACED])
    def test_every_status_event_is_a_valid_catalog_event(self, status):
        moved = order()
        reason = "payment_declined" if status is OrderStatus.REJECTED else None
        path = [OrderStatus.REJECTED] if reason else TestStateMachine.PATH[: TestStateMachine.PATH.index(status) + 1]
        for step in path:
            moved = moved.moved_to(step, T0, reason)
        message = status_message(moved, moved.history[-1])
        parsed = parse_cloud_event(message.body, message.content_type)
        assert parsed.type == status.event_type
        assert parsed.id == f"SO-1:{status.value}"
        assert message.message_id == f"/lob/orders#SO-1:{status.value}"
        assert message.application_properties == {
            "type": status.event_type,
            "source": "/lob/orders",
            "origin": "shop",
        }

    def test_the_placed_event_carries_the_total_as_a_decimal_string(self):
        assert status_event(order(), order().history[0])["data"]["total"] == "25.00"

    def test_a_step_is_scheduled_and_reads_back(self):
        due = T0 + timedelta(hours=1)
        message = step_message(order(), OrderStatus.SHIPPED, due)
        assert (message.subject, message.scheduled_enqueue_time) == (FULFILMENT_STEP_SUBJECT, due)
        assert message.application_properties == {"origin": "shop", "fulfilmentStep": "shipped"}
        step = parse_step(message.body)
        assert (step.order_id, step.customer_id, step.to) == ("SO-1", "alice", OrderStatus.SHIPPED)

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"[]",
            b"{",
            b'{"orderId":"SO-1","customerId":"alice"}',
            b'{"orderId":"","customerId":"a","to":"shipped"}',
            b'{"orderId":"SO-1","customerId":"a","to":"lost"}',
            json.dumps({"x": "y" * 5000}).encode(),
        ],
    )
    def test_a_malformed_step_is_a_validation_error(self, body: bytes):
        with pytest.raises(ValidationError):
            parse_step(body)
