"""Use case: a signed-in customer places an order; it is stored with its ``orders.order.placed`` event in one write."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from shared.domain.identity import Identity
from shared.domain.orders.messages import ORDERS_TOPIC, status_message
from shared.domain.orders.model import Order, OrderLine, new_order
from shared.ports.orders import IdempotencyClaim, OrderPorts, OutboxEntry
from shared.usecases.commands import PlaceOrder
from shared.usecases.relay_outbox import relay_soon

__all__ = ["PlacedOrder", "fingerprint", "place_order"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    created: bool  # False: an earlier request with the same Idempotency-Key made it


def fingerprint(command: PlaceOrder) -> str:
    """What makes two requests the same order (items, currency), hashed; the key itself is not part of it."""
    canonical = {
        "currency": command.currency,
        "items": [[item.sku, item.quantity, str(item.unit_price)] for item in command.items],
    }
    return hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).hexdigest()


async def place_order(ports: OrderPorts, identity: Identity, command: PlaceOrder) -> PlacedOrder:
    """Validate and store the order with its placed event, then relay the event.

    Raises ValidationError (the order can never be valid), ConflictError (the Idempotency-Key came with another
    order before), UpstreamError when storage fails (nothing is stored then; a retry with the same key is safe).
    """
    now = ports.now()
    order = new_order(
        ports.new_order_id(now),
        identity.user_id,
        command.currency,
        [OrderLine(item.sku, item.quantity, item.unit_price) for item in command.items],
        now,
    )
    entries = [OutboxEntry(identity.user_id, ORDERS_TOPIC, status_message(order, order.history[0]), now)]
    claim = IdempotencyClaim(command.idempotency_key, fingerprint(command)) if command.idempotency_key else None
    stored, created = await ports.orders.create(order, entries, claim)
    if created:
        logger.info("order placed order_id=%s lines=%s", order.order_id, len(order.lines))
        await relay_soon(ports.publisher, ports.outbox, entries)
    else:
        logger.info("order request repeated order_id=%s (same Idempotency-Key)", stored.order_id)
    return PlacedOrder(stored, created)
