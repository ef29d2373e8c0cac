"""GET /api/shop: the shop page (place an order, watch it move), and its script and stylesheet.

The page is public; its data calls (products, orders) need a signed-in customer. With AUTH_MODE=dev it asks for a
user name and sends it as X-Dev-User; with Easy Auth the browser's session cookie signs the calls in. Until
real-time delivery exists (issue 12) the status view polls GET /api/orders/{orderId}.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Final

from shared.api.http import ApiRequest, ApiResponse
from shared.composition.services import Services
from shared.domain.errors import NotFoundError

__all__ = ["get_shop_asset", "get_shop_page"]

_STATIC = Path(__file__).resolve().parent / "static"
_ASSETS: Final = {"shop.js": "text/javascript; charset=utf-8", "shop.css": "text/css; charset=utf-8"}
_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:;"
        " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _read(name: str) -> bytes:
    return (_STATIC / name).read_bytes()


async def get_shop_page(request: ApiRequest, services: Services) -> ApiResponse:
    mode = services.settings.auth_mode.value
    body = _read("shop.html").replace(b"{{AUTH_MODE}}", mode.encode())
    return ApiResponse(200, body, "text/html; charset=utf-8", _HEADERS)


async def get_shop_asset(request: ApiRequest, services: Services) -> ApiResponse:
    """One of the page's own files; anything else is 404 (no path is ever read from the request)."""
    name = request.route_params.get("asset", "")
    content_type = _ASSETS.get(name)
    if content_type is None:
        raise NotFoundError(f"no shop asset {name[:64]!r}")
    return ApiResponse(200, _read(name), content_type, _HEADERS)
