"""GET /api/shop: the shop page (place an order, watch it move live), its script and stylesheet, and the SignalR client.

The page is public; its data calls (products, orders) need a signed-in customer. With AUTH_MODE=dev it asks for a
user name and sends it as X-Dev-User; with Easy Auth the browser's session cookie signs the calls in. The status
view is live: Microsoft's official SignalR browser client negotiates through ``/api/negotiate`` as that customer and
receives the ``notification`` invocations of ``orders.order.*``; the page reads ``GET /api/orders/{orderId}`` only
once per (re)connection to catch up. The client comes from the npm package pinned in package.json: ``web/vendor/``
in the deployment zip (``infra/package_app.py`` copies it there), or ``node_modules/`` on a laptop.

The Content-Security-Policy allows connections to the app itself and to the SignalR endpoint negotiate hands out
(http(s) for its negotiate, ws(s) for the WebSocket), nothing else.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from shared.api.http import ApiRequest, ApiResponse
from shared.composition.services import Services
from shared.domain.errors import NotFoundError

__all__ = ["ASSETS", "content_security_policy", "get_shop_asset", "get_shop_page"]

_ROOT = Path(__file__).resolve().parents[3]
_STATIC = Path(__file__).resolve().parent / "static"
_JS: Final = "text/javascript; charset=utf-8"
# name -> content type, then where the file is: in the deployment zip first, then in a checkout with node_modules
ASSETS: Final[dict[str, tuple[str, tuple[Path, ...]]]] = {
    "shop.js": (_JS, (_STATIC / "shop.js",)),
    "shop.css": ("text/css; charset=utf-8", (_STATIC / "shop.css",)),
    "signalr.min.js": (
        _JS,
        (
            _ROOT / "web" / "vendor" / "signalr.min.js",
            _ROOT / "node_modules" / "@microsoft" / "signalr" / "dist" / "browser" / "signalr.min.js",
        ),
    ),
}
_WEBSOCKET_SCHEMES: Final = {"http": "ws", "https": "wss"}
_HEADERS: Final = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def content_security_policy(realtime_origin: str | None) -> str:
    """The page's policy; ``realtime_origin`` (``scheme://host[:port]`` of SignalR, None when off) is added to
    connect-src with its WebSocket twin. Anything but an http(s) origin adds nothing."""
    connect = ["'self'"]
    parts = urlsplit(realtime_origin or "")
    websocket = _WEBSOCKET_SCHEMES.get(parts.scheme)
    if websocket and parts.netloc and not parts.username and not parts.password:
        connect += [f"{parts.scheme}://{parts.netloc}", f"{websocket}://{parts.netloc}"]
    return (
        f"default-src 'none'; script-src 'self'; style-src 'self'; connect-src {' '.join(connect)};"
        " img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _headers(services: Services) -> dict[str, str]:
    origin = services.realtime.client_origin if services.realtime is not None else None
    return {"Content-Security-Policy": content_security_policy(origin), **_HEADERS}


@cache
def _read(path: Path) -> bytes:
    return path.read_bytes()


async def get_shop_page(request: ApiRequest, services: Services) -> ApiResponse:
    mode = services.settings.auth_mode.value
    body = _read(_STATIC / "shop.html").replace(b"{{AUTH_MODE}}", mode.encode())
    return ApiResponse(200, body, "text/html; charset=utf-8", _headers(services))


async def get_shop_asset(request: ApiRequest, services: Services) -> ApiResponse:
    """One of the page's own files; anything else is 404 (no path is ever read from the request)."""
    name = request.route_params.get("asset", "")
    content_type, paths = ASSETS.get(name, ("", ()))
    for path in paths:
        if path.is_file():
            return ApiResponse(200, _read(path), content_type, _headers(services))
    raise NotFoundError(f"no shop asset {name[:64]!r}")
