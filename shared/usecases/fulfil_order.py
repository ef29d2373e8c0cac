"""Use case: the fulfilment worker. One message on the ``fulfilment`` subscription moves one order one step.

``orders.order.placed`` -> the fulfilment rule set decides: confirmed (and the ship step is scheduled after
``ship_after``) or rejected. A fulfilment step message, when its wait is over -> shipped (and the deliver step is
scheduled after ``deliver_after``) or delivered. Each move is one conditional write of the order (its etag) with
the move's ``orders.order.*`` event and the next step in the outbox, then relayed.

A redelivered or duplicated message never moves an order twice or backwards: the state machine accepts only the
move that follows the order's current status, so a repeat finds the order moved already and is completed as a
duplicate; two deliveries racing on one order both read it, one conditional write wins, the other gets a conflict
and is retried by the bus, then sees the move done. A message that can never be handled (not an event of the
shop, no such order, an invalid step) is quarantined with its reason and completed, never retried.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from enum import StrEnum
from typing import Final

from shared.domain.catalog.payloads import OrderEvent
from shared.domain.errors import ConflictError, UpstreamUnavailableError, ValidationError
from shared.domain.events import PermanentEventError, parse_cloud_event
from shared.domain.orders.fulfilment import check_order
from shared.domain.orders.messages import (
    FULFILMENT_STEP_SUBJECT,
    ORDERS_TOPIC,
    parse_step,
    status_message,
    step_message,
)
from shared.domain.orders.model import OrderStatus
from shared.ports.orders import FulfilmentPorts, OutboxEntry
from shared.usecases.incoming import IncomingMessage, quarantined_message
from shared.usecases.relay_outbox import relay_soon

__all__ = ["FulfilmentResult", "OrderChangedError", "fulfil_message"]

logger = logging.getLogger(__name__)

# The statuses a scheduled step may move an order to; confirming or rejecting is the placed event's business.
_STEP_TARGETS: Final = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED})


class FulfilmentResult(StrEnum):
    MOVED = "moved"
    DUPLICATE = "duplicate"  # the order had already made this move (or a later one)
    QUARANTINED = "quarantined"


class OrderChangedError(UpstreamUnavailableError):
    """The order changed between read and write (another delivery moved it); the bus should deliver again."""


async def fulfil_message(message: IncomingMessage, ports: FulfilmentPorts) -> FulfilmentResult:
    """Handle one message of the fulfilment subscription. Raises UpstreamUnavailableError when the bus should
    redeliver it (storage away, a concurrent move), after holding it for ``redelivery_backoff(delivery_count)``."""
    try:
        return await _fulfil(message, ports)
    except UpstreamUnavailableError as exc:
        delay = ports.redelivery_backoff(message.delivery_count)
        logger.warning(
            "fulfilment of message_id=%s failed for now (%s); handing it back in %.0f s",
            message.message_id,
            type(exc).__name__,
            delay,
        )
        await asyncio.sleep(delay)
        raise


async def _fulfil(message: IncomingMessage, ports: FulfilmentPorts) -> FulfilmentResult:
    if message.subject == FULFILMENT_STEP_SUBJECT:
        try:
            step = parse_step(message.body)
        except ValidationError as exc:
            return await _quarantine(ports, message, "invalid_step", exc.detail)
        if step.to not in _STEP_TARGETS:
            detail = f"a fulfilment step moves an order to shipped or delivered, not {step.to.value}"
            return await _quarantine(ports, message, "invalid_step", detail)
        return await _advance(ports, message, step.customer_id, step.order_id, step.to)
    try:
        event = parse_cloud_event(message.body, message.content_type)
    except PermanentEventError as exc:
        return await _quarantine(ports, message, exc.reason, exc.detail)
    if event.type != OrderStatus.PLACED.event_type or not isinstance(event.data, OrderEvent):
        detail = f"the fulfilment worker handles orders.order.placed and fulfilment steps, not {event.type!r}"
        return await _quarantine(ports, message, "unroutable", detail)
    return await _advance(ports, message, event.data.customer_id, event.data.order_id, None)


async def _advance(
    ports: FulfilmentPorts, message: IncomingMessage, customer_id: str, order_id: str, to: OrderStatus | None
) -> FulfilmentResult:
    """Move the order to ``to`` (None: confirm or reject it by the rule set) if that is its next move."""
    stored = await ports.orders.get(customer_id, order_id)
    if stored is None:
        detail = f"order {order_id!r} of customer {customer_id!r} does not exist"
        return await _quarantine(ports, message, "unknown_order", detail)
    order = stored.order
    reason = None
    if to is None:
        if order.status is not OrderStatus.PLACED:
            return _duplicate(order_id, order.status, OrderStatus.CONFIRMED)
        reason = check_order(order)
        to = OrderStatus.REJECTED if reason else OrderStatus.CONFIRMED
    elif not order.can_move_to(to):
        return _duplicate(order_id, order.status, to)
    now = ports.now()
    moved = order.moved_to(to, now, reason)
    entries = [OutboxEntry(customer_id, ORDERS_TOPIC, status_message(moved, moved.history[-1]), now)]
    following = _next_step(ports, to)
    if following is not None:
        status, wait = following
        entries.append(OutboxEntry(customer_id, ORDERS_TOPIC, step_message(moved, status, now + wait), now))
    try:
        await ports.orders.transition(stored, moved, entries)
    except ConflictError as exc:
        raise OrderChangedError(f"order {order_id} changed while it was being moved to {to.value}") from exc
    logger.info("order moved order_id=%s %s -> %s%s", order_id, order.status.value, to.value, _why(reason))
    await relay_soon(ports.publisher, ports.outbox, entries)
    return FulfilmentResult.MOVED


def _next_step(ports: FulfilmentPorts, reached: OrderStatus) -> tuple[OrderStatus, timedelta] | None:
    if reached is OrderStatus.CONFIRMED:
        return OrderStatus.SHIPPED, ports.ship_after
    if reached is OrderStatus.SHIPPED:
        return OrderStatus.DELIVERED, ports.deliver_after
    return None


def _why(reason: str | None) -> str:
    return f" ({reason})" if reason else ""


def _duplicate(order_id: str, current: OrderStatus, wanted: OrderStatus) -> FulfilmentResult:
    logger.info("order_id=%s is %s: the move to %s is refused (done already)", order_id, current.value, wanted.value)
    return FulfilmentResult.DUPLICATE


async def _quarantine(
    ports: FulfilmentPorts, message: IncomingMessage, reason: str, description: str
) -> FulfilmentResult:
    await ports.quarantine.add(quarantined_message(message, reason, description, ports.now()))
    logger.warning("quarantined message_id=%s on %s/fulfilment: %s", message.message_id, message.topic, reason)
    return FulfilmentResult.QUARANTINED
