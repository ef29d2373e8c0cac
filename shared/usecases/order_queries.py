"""Use cases that read orders: one of the caller's orders, the caller's orders page by page, the product list."""

from __future__ import annotations

from shared.domain.errors import FieldError, NotFoundError, ValidationError
from shared.domain.identity import Identity
from shared.domain.orders.model import Order
from shared.domain.orders.products import PRODUCTS, Product
from shared.ports.orders import OrderPage, OrderPorts

__all__ = ["MAX_PAGE_SIZE", "get_order", "list_orders", "list_products"]

MAX_PAGE_SIZE = 100


async def get_order(ports: OrderPorts, identity: Identity, order_id: str) -> Order:
    """The caller's order. Raises NotFoundError when the caller has no such order, whoever else might: orders are
    stored under their customer, so another customer's order is simply not found."""
    stored = await ports.orders.get(identity.user_id, order_id)
    if stored is None:
        raise NotFoundError(f"order {order_id!r} does not exist")
    return stored.order


async def list_orders(ports: OrderPorts, identity: Identity, *, limit: int, after: str | None) -> OrderPage:
    """The caller's orders, newest first. Raises ValidationError for a limit outside 1..MAX_PAGE_SIZE."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationError("invalid page size", [FieldError("query:limit", f"between 1 and {MAX_PAGE_SIZE}")])
    return await ports.orders.page(identity.user_id, limit=limit, after=after)


def list_products() -> list[Product]:
    return list(PRODUCTS.values())
