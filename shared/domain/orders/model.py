"""An order, its lines and money, and the state machine every change of status goes through.

placed ──► confirmed ──► shipped ──► delivered
   └─────► rejected

A status moves only forward along these arrows, one step at a time; ``delivered`` and ``rejected`` are final.
Money is ``Decimal`` throughout: unit prices carry at most the currency's minor units (2 for EUR, 0 for JPY) and
the total is the exact sum of quantity x unit price, never a float.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

from shared.domain.errors import ConflictError, FieldError, ValidationError
from shared.domain.orders.prices import CURRENCY_DIGITS, MAX_UNIT_PRICE

__all__ = [
    "MAX_LINES",
    "MAX_QUANTITY",
    "MAX_UNIT_PRICE",
    "Order",
    "OrderLine",
    "OrderStatus",
    "StatusChange",
    "TransitionRefusedError",
    "new_order",
    "order_id_for",
]

MAX_LINES: Final = 20
MAX_QUANTITY: Final = 100


class OrderStatus(StrEnum):
    PLACED = "placed"
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    REJECTED = "rejected"

    @property
    def event_type(self) -> str:
        """The catalog's event type announcing this status (``orders.order.shipped``)."""
        return f"orders.order.{self.value}"

    @property
    def final(self) -> bool:
        return self in (OrderStatus.DELIVERED, OrderStatus.REJECTED)


# The only moves there are; anything else (backwards, skipping, twice) is refused.
_NEXT: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PLACED: frozenset({OrderStatus.CONFIRMED, OrderStatus.REJECTED}),
    OrderStatus.CONFIRMED: frozenset({OrderStatus.SHIPPED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
}


class TransitionRefusedError(ConflictError):
    """The order is not in the status a move starts from: it already moved (a redelivery), or the move is invalid."""

    def __init__(self, order_id: str, current: OrderStatus, wanted: OrderStatus) -> None:
        super().__init__(f"order {order_id} is {current.value}; it cannot move to {wanted.value}")
        self.current = current
        self.wanted = wanted


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class StatusChange:
    """One step of an order's history: the status reached, when, the event announcing it, and why (rejections)."""

    status: OrderStatus
    at: datetime
    event_id: str
    reason: str | None = None


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_id: str
    currency: str
    lines: tuple[OrderLine, ...]
    status: OrderStatus
    history: tuple[StatusChange, ...]
    created_at: datetime

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def updated_at(self) -> datetime:
        return self.history[-1].at if self.history else self.created_at

    def can_move_to(self, status: OrderStatus) -> bool:
        return status in _NEXT[self.status]

    def moved_to(self, status: OrderStatus, at: datetime, reason: str | None = None) -> Order:
        """The order one step further. Raises TransitionRefusedError unless ``status`` follows the current one."""
        if not self.can_move_to(status):
            raise TransitionRefusedError(self.order_id, self.status, status)
        change = StatusChange(status, at, event_id_for(self.order_id, status), reason)
        return replace(self, status=status, history=(*self.history, change))

    def reached(self, status: OrderStatus) -> bool:
        """Whether the order went through ``status`` at some point."""
        return any(change.status is status for change in self.history)


def order_id_for(at: datetime, nonce: int) -> str:
    """An order id that sorts newest first ("SO-" + 11 hex digits of time counted down + 5 of ``nonce``), so the
    customer's orders come back newest first in key order; ``nonce`` (random) keeps ids of one millisecond apart."""
    countdown = (1 << 44) - int(at.timestamp() * 1000)
    return f"SO-{countdown:011X}{nonce & 0xFFFFF:05X}"


def event_id_for(order_id: str, status: OrderStatus) -> str:
    """The CloudEvent id announcing ``status``: one per order and step, so a step can never be announced twice
    under two ids (the push subscription's delivery log keys on it)."""
    return f"{order_id}:{status.value}"


def new_order(
    order_id: str,
    customer_id: str,
    currency: str,
    lines: Sequence[OrderLine],
    at: datetime,
) -> Order:
    """A placed order after the checks any order must pass. Raises ValidationError naming every field at fault:
    no lines or more than MAX_LINES, a quantity outside 1..MAX_QUANTITY, a unit price that is not positive, over
    MAX_UNIT_PRICE or finer than the currency's minor unit, an unknown currency. A sku may come on several lines
    (each is a line). The total is not capped here: the lines bound it, and fulfilment declines big payments."""
    errors: list[FieldError] = []
    if currency not in CURRENCY_DIGITS:
        errors.append(FieldError("/currency", f"{currency!r} is not an ISO 4217 currency code"))
    if not lines:
        errors.append(FieldError("/items", "an order needs at least one item"))
    if len(lines) > MAX_LINES:
        errors.append(FieldError("/items", f"at most {MAX_LINES} items per order"))
    for index, line in enumerate(lines):
        errors += _line_errors(index, line, currency)
    if errors:
        raise ValidationError("the order is invalid", errors)
    return Order(
        order_id=order_id,
        customer_id=customer_id,
        currency=currency,
        lines=tuple(lines),
        status=OrderStatus.PLACED,
        history=(StatusChange(OrderStatus.PLACED, at, event_id_for(order_id, OrderStatus.PLACED)),),
        created_at=at,
    )


def _line_errors(index: int, line: OrderLine, currency: str) -> list[FieldError]:
    where = f"/items/{index}"
    errors: list[FieldError] = []
    if not 1 <= line.quantity <= MAX_QUANTITY:
        errors.append(FieldError(f"{where}/quantity", f"between 1 and {MAX_QUANTITY}"))
    price = line.unit_price
    if not price.is_finite() or price <= 0 or price > MAX_UNIT_PRICE:
        errors.append(FieldError(f"{where}/unitPrice", f"a positive amount up to {MAX_UNIT_PRICE}"))
    elif currency in CURRENCY_DIGITS:
        digits = CURRENCY_DIGITS[currency]
        exponent = price.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > digits:
            errors.append(FieldError(f"{where}/unitPrice", f"{currency} has {digits} decimal places"))
    return errors
