"""What the shop sends to place an order, and what the order routes answer, as pydantic models (the OpenAPI
document is built from them)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.orders.model import MAX_LINES, MAX_QUANTITY, Order, OrderStatus
from shared.domain.orders.products import Product
from shared.usecases.commands import OrderItem, PlaceOrder
from shared.usecases.order_queries import MAX_PAGE_SIZE

__all__ = [
    "DECIMAL_STRING",
    "DEFAULT_PAGE_SIZE",
    "ORDER_ID_PATTERN",
    "MyOrdersParams",
    "OrderItemRequest",
    "OrderItemView",
    "OrderListView",
    "OrderRequest",
    "OrderView",
    "ProductListView",
    "ProductView",
    "StatusChangeView",
    "order_view",
    "product_view",
]

DEFAULT_PAGE_SIZE: Final = 20
# What an order id can look like (ours are "SO-" + 16 hex digits). Any such id is a position in the caller's
# newest-first list, so every one the document admits is a valid cursor.
ORDER_ID_PATTERN: Final = r"^[A-Za-z0-9-]{1,64}$"

# A non-negative decimal number written as a string, as money is on this API: "12.50", never a JSON number.
DECIMAL_STRING = r"^(0|[1-9][0-9]{0,8})(\.[0-9]{1,4})?$"
_Money = Annotated[str, Field(pattern=DECIMAL_STRING, max_length=14, examples=["12.50"])]


class OrderItemRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sku: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    quantity: int = Field(ge=1, le=MAX_QUANTITY, strict=True)
    unit_price: _Money = Field(alias="unitPrice")


class OrderRequest(BaseModel):
    """POST /api/orders. The header ``Idempotency-Key`` makes a retried request return the order it made."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    items: list[OrderItemRequest] = Field(min_length=1, max_length=MAX_LINES)
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])
    total: _Money | None = Field(default=None, description="what the client showed; refused when it differs")

    def to_command(self, idempotency_key: str | None) -> PlaceOrder:
        return PlaceOrder(
            items=tuple(OrderItem(item.sku, item.quantity, Decimal(item.unit_price)) for item in self.items),
            currency=self.currency,
            total=None if self.total is None else Decimal(self.total),
            idempotency_key=idempotency_key,
        )


class MyOrdersParams(BaseModel):
    """Query string of GET /api/me/orders."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="page size")
    after: str | None = Field(
        default=None, pattern=ORDER_ID_PATTERN, description="`next` of a page: the page starts after this order id"
    )


class OrderItemView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    sku: str
    quantity: int
    unit_price: str = Field(alias="unitPrice")
    amount: str


class StatusChangeView(BaseModel):
    status: OrderStatus
    at: datetime
    reason: str | None = None


class OrderView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    order_id: str = Field(alias="orderId")
    status: OrderStatus
    currency: str
    total: str
    items: list[OrderItemView]
    history: list[StatusChangeView] = Field(description="every status the order reached, oldest first")
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class OrderListView(BaseModel):
    orders: list[OrderView]
    next: str | None = Field(description="pass as ?after= for the next page; null on the last page")


class ProductView(BaseModel):
    sku: str
    names: dict[str, str] = Field(description="the product's name per language")
    price: str
    currency: str


class ProductListView(BaseModel):
    products: list[ProductView]


def order_view(order: Order) -> OrderView:
    return OrderView(
        orderId=order.order_id,
        status=order.status,
        currency=order.currency,
        total=str(order.total),
        items=[
            OrderItemView(sku=line.sku, quantity=line.quantity, unitPrice=str(line.unit_price), amount=str(line.amount))
            for line in order.lines
        ],
        history=[StatusChangeView(status=c.status, at=c.at, reason=c.reason) for c in order.history],
        createdAt=order.created_at,
        updatedAt=order.updated_at,
    )


def product_view(product: Product) -> ProductView:
    return ProductView(sku=product.sku, names=dict(product.names), price=str(product.price), currency=product.currency)
