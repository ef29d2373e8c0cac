"""Routes of the order-processing app: the product list, placing an order, the caller's orders."""

from __future__ import annotations

import re
from typing import Final

from pydantic import BaseModel

from shared.api.http import ApiRequest, ApiResponse, json_response, parse_json_object
from shared.api.order_schemas import (
    IDEMPOTENCY_KEY_PATTERN,
    ORDER_ID_PATTERN,
    MyOrdersParams,
    OrderListView,
    OrderRequest,
    ProductListView,
    order_view,
    product_view,
)
from shared.api.runtime import authenticate
from shared.api.validation import validate_model
from shared.composition.services import Services
from shared.domain.catalog.wire_types import python_regex
from shared.domain.errors import FieldError, NotFoundError, ValidationError
from shared.usecases.order_queries import get_order, list_orders, list_products
from shared.usecases.place_order import place_order

__all__ = ["MAX_ORDER_BYTES", "get_my_orders", "get_one_order", "get_products", "post_order"]

MAX_ORDER_BYTES: Final = 8 * 1024
# What an order id can look like (ours are "SO-" + 16 hex digits); anything else cannot be an order: 404.
_ORDER_ID = re.compile(ORDER_ID_PATTERN.removeprefix("^").removesuffix("$"))
_IDEMPOTENCY_KEY = python_regex(IDEMPOTENCY_KEY_PATTERN)


def _json(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> ApiResponse:
    return json_response(model.model_dump(mode="json", by_alias=True), status, headers)


async def get_products(request: ApiRequest, services: Services) -> ApiResponse:
    authenticate(request, services)
    return _json(ProductListView(products=[product_view(product) for product in list_products()]))


async def post_order(request: ApiRequest, services: Services) -> ApiResponse:
    """202 with the order (status placed), a Location, and the same order again for a repeated Idempotency-Key."""
    identity = authenticate(request, services)
    key = request.header("idempotency-key")
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValidationError(
            "invalid Idempotency-Key",
            [FieldError("header:Idempotency-Key", "1 to 255 printable ASCII characters without spaces")],
        )
    body = validate_model(OrderRequest, parse_json_object(request, MAX_ORDER_BYTES))
    placed = await place_order(services.ordering, identity, body.to_command(key))
    headers = {"Location": f"/api/orders/{placed.order.order_id}"}
    if not placed.created:
        headers["Idempotent-Replayed"] = "true"
    return _json(order_view(placed.order), 202, headers)


async def get_one_order(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    order_id = request.route_params.get("orderId", "")
    if not _ORDER_ID.fullmatch(order_id):
        raise NotFoundError(f"order {order_id[:64]!r} does not exist")
    return _json(order_view(await get_order(services.ordering, identity, order_id)))


async def get_my_orders(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    query = validate_model(MyOrdersParams, dict(request.query), "the query string")
    page = await list_orders(services.ordering, identity, limit=query.limit, after=query.after)
    return _json(OrderListView(orders=[order_view(order) for order in page.orders], next=page.next_after))
