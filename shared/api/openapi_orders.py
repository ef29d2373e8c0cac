"""The order-processing app's part of the OpenAPI document: its paths, and the models its schemas come from."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.api.openapi_parts import _JSON, _SECURED, _json, _problems, _ref, query_parameters
from shared.api.order_schemas import (
    IDEMPOTENCY_KEY_PATTERN,
    MyOrdersParams,
    OrderListView,
    OrderRequest,
    OrderView,
    ProductListView,
)

__all__ = ["ORDER_MODELS", "order_paths"]

ORDER_MODELS: tuple[type[BaseModel], ...] = (OrderRequest, OrderView, OrderListView, ProductListView)


def order_paths() -> dict[str, Any]:
    """The order-processing app: products, placing an order, the caller's orders, the shop page."""
    order_id = {"name": "orderId", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
    idempotency_key = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "a retried request with the same key returns the order the first one made",
        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
    }
    return {
        "/products": {
            "get": {
                "operationId": "list_products",
                "summary": "The shop's products: sku, name per language, price, currency",
                "security": _SECURED,
                "responses": {"200": _json(_ref("ProductListView"), "the products"), **_problems(401)},
            }
        },
        "/orders": {
            "post": {
                "operationId": "place_order",
                "summary": "Place an order; fulfilment confirms or rejects it and moves it on (202, status placed)",
                "security": _SECURED,
                "parameters": [idempotency_key],
                "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("OrderRequest")}}},
                "responses": {
                    "202": {
                        **_json(_ref("OrderView"), "the order, with Location: /api/orders/{orderId}"),
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    },
                    **_problems(400, 401, 409, 413, 415, 503),
                },
            }
        },
        "/orders/{orderId}": {
            "get": {
                "operationId": "get_order",
                "summary": "One of the caller's orders with its status history (anyone else's: 404)",
                "security": _SECURED,
                "parameters": [order_id],
                "responses": {"200": _json(_ref("OrderView"), "the order"), **_problems(401, 404, 503)},
            }
        },
        "/me/orders": {
            "get": {
                "operationId": "list_my_orders",
                "summary": "The caller's orders, newest first, paged",
                "security": _SECURED,
                "parameters": query_parameters(MyOrdersParams),
                "responses": {"200": _json(_ref("OrderListView"), "a page of orders"), **_problems(400, 401, 503)},
            }
        },
        "/shop": {
            "get": {
                "operationId": "shop_page",
                "summary": "The shop page (HTML); its data calls need a signed-in customer",
                "security": [],
                "responses": {"200": {"description": "the page", "content": {"text/html": {"schema": {}}}}},
            }
        },
        "/shop/{asset}": {
            "get": {
                "operationId": "shop_asset",
                "summary": "The shop page's script and stylesheet",
                "security": [],
                "parameters": [
                    {"name": "asset", "in": "path", "required": True, "schema": {"enum": ["shop.js", "shop.css"]}}
                ],
                "responses": {
                    "200": {
                        "description": "the file",
                        "content": {"text/javascript": {"schema": {}}, "text/css": {"schema": {}}},
                    },
                    **_problems(404),
                },
            }
        },
    }
