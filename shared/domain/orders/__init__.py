"""The order-processing app's rules, pure: the order and its state machine, money, the product list, fulfilment.

``model`` holds the order, its lines and the state machine (placed -> confirmed -> shipped -> delivered, or
placed -> rejected); ``products`` the shop's product list, kept as data like the event catalog; ``fulfilment``
the documented rule set that confirms or rejects a placed order; ``messages`` the CloudEvents and fulfilment-step
messages an order's changes become.
"""

from __future__ import annotations

from shared.domain.orders.model import (
    MAX_LINES,
    MAX_QUANTITY,
    Order,
    OrderLine,
    OrderStatus,
    StatusChange,
    TransitionRefusedError,
    new_order,
)
from shared.domain.orders.products import PRODUCTS, Product

__all__ = [
    "MAX_LINES",
    "MAX_QUANTITY",
    "PRODUCTS",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Product",
    "StatusChange",
    "TransitionRefusedError",
    "new_order",
]
