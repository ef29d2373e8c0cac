"""What an order's changes become on the ``orders`` topic: the catalog's ``orders.order.*`` CloudEvents, and the
scheduled fulfilment-step messages that wake the fulfilment worker when a wait is over.

Both carry the application property ``origin = 'shop'``: the ``fulfilment`` subscription's filter takes only the
shop's own messages (other systems may publish ``orders.*`` events for orders the shop does not hold), and the
``push`` subscription's filter leaves the step messages out (they tell nobody anything).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from shared.domain.errors import FieldError, ValidationError
from shared.domain.orders.model import Order, OrderStatus, StatusChange
from shared.domain.publishing import to_outgoing_message
from shared.domain.records import OutgoingMessage
from shared.domain.topics import TOPICS

__all__ = [
    "FULFILMENT_STEP_SUBJECT",
    "ORDERS_TOPIC",
    "ORIGIN",
    "ORIGIN_PROPERTY",
    "STEP_PROPERTY",
    "FulfilmentStep",
    "parse_step",
    "status_event",
    "status_message",
    "step_message",
]

ORDERS_TOPIC: Final = "orders"
FULFILMENT_STEP_SUBJECT: Final = "orders.fulfilment.step"
ORIGIN_PROPERTY: Final = "origin"
ORIGIN: Final = "shop"
STEP_PROPERTY: Final = "fulfilmentStep"
CARRIER: Final = "DHL"
_STEP_CONTENT_TYPE = "application/json"
_MAX_STEP_BYTES = 4096


def status_event(order: Order, change: StatusChange) -> dict[str, Any]:
    """The CloudEvent announcing ``change`` of ``order``, in the catalog's payload schema for its type."""
    data: dict[str, Any] = {
        "orderId": order.order_id,
        "customerId": order.customer_id,
        "total": str(order.total),
        "currency": order.currency,
    }
    if change.status is OrderStatus.SHIPPED:
        data["carrier"] = CARRIER
        data["trackingUrl"] = f"https://tracking.example.com/track?order={order.order_id}"
    if change.status is OrderStatus.REJECTED:
        data["reason"] = change.reason
    return {
        "specversion": "1.0",
        "id": change.event_id,
        "source": TOPICS[ORDERS_TOPIC],
        "type": change.status.event_type,
        "time": change.at.isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


def status_message(order: Order, change: StatusChange) -> OutgoingMessage:
    """The Service Bus message of ``status_event``: message id = event id (duplicate detection), origin = shop."""
    message = to_outgoing_message(status_event(order, change))
    return replace(message, application_properties={**message.application_properties, ORIGIN_PROPERTY: ORIGIN})


@dataclass(frozen=True)
class FulfilmentStep:
    """A wake-up for the fulfilment worker: move ``order_id`` to ``to`` (its wait is over)."""

    order_id: str
    customer_id: str
    to: OrderStatus


def step_message(order: Order, to: OrderStatus, due: datetime) -> OutgoingMessage:
    """The scheduled message that wakes the worker at ``due``; its id is stable per order and step, so a second
    relay of it within the duplicate-detection window is dropped by the broker (and the state machine refuses the
    step anyway after that)."""
    body = {"orderId": order.order_id, "customerId": order.customer_id, "to": to.value}
    return OutgoingMessage(
        message_id=f"{order.order_id}:step:{to.value}",
        subject=FULFILMENT_STEP_SUBJECT,
        content_type=_STEP_CONTENT_TYPE,
        body=json.dumps(body, separators=(",", ":")).encode(),
        application_properties={ORIGIN_PROPERTY: ORIGIN, STEP_PROPERTY: to.value},
        scheduled_enqueue_time=due,
    )


def parse_step(body: bytes) -> FulfilmentStep:
    """Read a step message's body. Raises ValidationError when it is not one (the worker quarantines it)."""
    if len(body) > _MAX_STEP_BYTES:
        raise ValidationError(f"a fulfilment step is at most {_MAX_STEP_BYTES} bytes, not {len(body)}")
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError(f"the fulfilment step is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ValidationError("a fulfilment step is a JSON object")
    errors = [
        FieldError(f"/{name}", "required, a non-empty string")
        for name in ("orderId", "customerId", "to")
        if not isinstance(raw.get(name), str) or not raw[name]
    ]
    if errors:
        raise ValidationError("the fulfilment step is incomplete", errors)
    try:
        to = OrderStatus(raw["to"])
    except ValueError:
        raise ValidationError("unknown status", [FieldError("/to", "not an order status")]) from None
    return FulfilmentStep(order_id=raw["orderId"], customer_id=raw["customerId"], to=to)
