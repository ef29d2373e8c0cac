"""The fulfilment rule set: what decides whether a placed order is confirmed or rejected.

Checked in this order; the first rule that fails names the rejection reason:

| reason              | rule                                                                               |
|---------------------|------------------------------------------------------------------------------------|
| ``unknown_sku``     | every sku is on the product list (``products.PRODUCTS``)                           |
| ``currency_mismatch`` | the order's currency is the currency the products are priced in                  |
| ``price_mismatch``  | every unit price is the list price (the client showed a stale or altered price)    |
| ``payment_declined``| the total is at most PAYMENT_LIMIT (the stand-in payment provider declines above)  |

The order API validates only what can be checked without the product list (shape, sizes, money); the list is
the fulfilment worker's business, so an order for a sku that is not on it is accepted (202) and then rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final, Literal

from shared.domain.orders.model import Order
from shared.domain.orders.products import PRODUCTS, Product

__all__ = ["PAYMENT_LIMIT", "REJECTION_REASONS", "RejectionReason", "check_order"]

RejectionReason = Literal["unknown_sku", "currency_mismatch", "price_mismatch", "payment_declined"]
REJECTION_REASONS: Final[tuple[RejectionReason, ...]] = (
    "unknown_sku",
    "currency_mismatch",
    "price_mismatch",
    "payment_declined",
)
# In the order's currency (the list is in EUR, and other currencies are rejected before this rule).
PAYMENT_LIMIT: Final = Decimal("2000")


def check_order(order: Order, products: Mapping[str, Product] = PRODUCTS) -> RejectionReason | None:
    """None when the order may be confirmed, else the reason it is rejected (the first rule that fails)."""
    listed = [products.get(line.sku) for line in order.lines]
    if any(product is None for product in listed):
        return "unknown_sku"
    if any(product is not None and product.currency != order.currency for product in listed):
        return "currency_mismatch"
    for line, product in zip(order.lines, listed, strict=True):
        if product is not None and line.unit_price != product.price:
            return "price_mismatch"
    if order.total > PAYMENT_LIMIT:
        return "payment_declined"
    return None
