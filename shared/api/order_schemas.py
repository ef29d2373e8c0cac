"""What the shop sends to place an order, and what the order routes answer, as pydantic models (the OpenAPI
document is built from them)."""

from __future__ import annotations

from copy import deepcopy
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field

from shared.api.schemas.wire import JSON_INTEGER
from shared.domain.orders.model import MAX_LINES, MAX_QUANTITY, Order, OrderStatus
from shared.domain.orders.prices import MAX_WRITTEN_DECIMALS, currencies_by_digits, unit_price_pattern
from shared.domain.orders.products import Product
from shared.usecases.commands import OrderItem, PlaceOrder
from shared.usecases.order_queries import MAX_PAGE_SIZE

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "IDEMPOTENCY_KEY_PATTERN",
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
# RFC 9110 token-ish: printable ASCII without spaces, as clients generate UUIDs or similar.
IDEMPOTENCY_KEY_PATTERN: Final = r"^[!-~]{1,255}$"
# What an order id can look like (ours are "SO-" + 16 hex digits). Any such id is a position in the caller's
# newest-first list, so every one the document admits is a valid cursor.
ORDER_ID_PATTERN: Final = r"^[A-Za-z0-9-]{1,64}$"


class OrderItemRequest(BaseModel):
    """One line; a sku may come on several lines. ``unitPrice`` is money written as a string ("12.50"), with at
    most the order currency's minor units (OrderRequest's schema states the pattern per currency)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sku: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY), JSON_INTEGER]
    unit_price: str = Field(alias="unitPrice", pattern=unit_price_pattern(MAX_WRITTEN_DECIMALS), examples=["12.50"])


def _per_currency_digits(schema: dict[str, Any]) -> None:
    """The document's OrderRequest: one alternative per group of currencies with the same minor units, each with
    its unit price pattern, so the schema admits exactly what the model and the domain (new_order) accept."""
    line = OrderItemRequest.model_json_schema(by_alias=True)
    line.pop("title", None)
    items = schema["properties"]["items"]
    shape = {k: v for k, v in schema.items() if k not in ("title", "description")}
    alternatives = []
    for digits, codes in currencies_by_digits().items():
        priced = deepcopy(line)
        priced["properties"]["unitPrice"]["pattern"] = unit_price_pattern(digits)
        properties = {
            "items": {**items, "items": priced},
            "currency": {"type": "string", "enum": codes, "description": f"{digits} decimal places"},
        }
        alternatives.append({**shape, "properties": properties})
    for key in ("type", "properties", "required", "additionalProperties"):
        schema.pop(key, None)
    schema["oneOf"] = alternatives


class OrderRequest(BaseModel):
    """POST /api/orders: the lines and their currency, any ISO 4217 one (fulfilment rejects a currency the product
    list is not priced in); the server computes the total. The header ``Idempotency-Key`` makes a retried request
    return the order it made."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, json_schema_extra=_per_currency_digits)

    items: list[OrderItemRequest] = Field(min_length=1, max_length=MAX_LINES)
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])

    def to_command(self, idempotency_key: str | None) -> PlaceOrder:
        return PlaceOrder(
            items=tuple(OrderItem(item.sku, item.quantity, Decimal(item.unit_price)) for item in self.items),
            currency=self.currency,
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
