"""The operator console: a page at /api/console (role push.admin), its static files, and the summary it polls.

The page and its script live in ``web/console/`` (deployed with the app). Chart.js comes from the npm package
pinned in package.json: ``web/vendor/`` in the deployment zip (``infra/package_app.py`` copies it there), or
``node_modules/`` on a laptop. The page reads everything else through the API: ``/api/deliveries`` (search by
user or event), ``/api/deadletters`` (list, replay) and ``/api/console/summary`` (recent decisions, and the
last hour of this instance's metrics for the charts).

Identity: Easy Auth in Azure (its session cookie, headers set by App Service). Locally (AUTH_MODE=dev) a browser
cannot send X-Dev-* headers with a page load, so the console alone also reads them from the ``ep_dev_user`` and
``ep_dev_roles`` cookies that ``/api/console/signin`` sets; the page sends them as headers on its API calls.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from pathlib import Path

from shared.api.deliveries import decision_view
from shared.api.http import ApiRequest, ApiResponse, json_response
from shared.api.operators import PUSH_ADMIN_ROLE
from shared.api.runtime import authenticate
from shared.composition.services import Services
from shared.composition.settings import AuthMode
from shared.domain.errors import NotFoundError, UpstreamUnavailableError
from shared.domain.identity import require_role
from shared.usecases.decision_ledger import recent_decisions

__all__ = ["CHART_METRICS", "get_asset", "get_console", "get_signin", "get_summary"]

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
# name -> where it is in the deployment zip, then where it is in a checkout with node_modules
ASSETS: dict[str, tuple[Path, ...]] = {
    "console.js": (WEB / "console" / "console.js",),
    "console.css": (WEB / "console" / "console.css",),
    "signin.js": (WEB / "console" / "signin.js",),
    "chart.umd.min.js": (
        WEB / "vendor" / "chart.umd.min.js",
        ROOT / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js",
    ),
}
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
CHART_METRICS = (
    "push.events.received",
    "push.decisions",
    "push.nh.sends",
    "push.event_to_nh_accepted.count",
    "push.event_to_nh_accepted.sum",
    "push.registrations",
    "push.dead_letters",
)
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_PAGE_HEADERS = {
    **_NO_STORE,
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _with_dev_cookies(request: ApiRequest, services: Services) -> ApiRequest:
    """In dev mode, the ``ep_dev_*`` cookies stand in for the X-Dev-* headers a browser cannot send on a page load."""
    if services.settings.auth_mode is not AuthMode.DEV or request.header("x-dev-user"):
        return request
    cookie = SimpleCookie()
    try:
        cookie.load(request.header("cookie") or "")
    except CookieError:
        return request
    headers = dict(request.headers)
    for name, header in (("ep_dev_user", "x-dev-user"), ("ep_dev_roles", "x-dev-roles")):
        if name in cookie:
            headers[header] = cookie[name].value
    return ApiRequest(request.method, request.route_params, request.query, headers, request.body)


async def get_console(request: ApiRequest, services: Services) -> ApiResponse:
    """The console page (role push.admin)."""
    require_role(authenticate(_with_dev_cookies(request, services), services), PUSH_ADMIN_ROLE)
    page = (WEB / "console" / "index.html").read_bytes()
    return ApiResponse(200, page, "text/html; charset=utf-8", _PAGE_HEADERS)


async def get_asset(request: ApiRequest, services: Services) -> ApiResponse:
    """A static file of the page (no data in it: served to anyone, like the page's HTML would be by a CDN)."""
    name = request.route_params.get("name", "")
    for path in ASSETS.get(name, ()):
        if path.is_file():
            return ApiResponse(200, path.read_bytes(), _TYPES[path.suffix], {"Cache-Control": "max-age=300"})
    raise NotFoundError(f"no console asset {name!r}")


async def get_summary(request: ApiRequest, services: Services) -> ApiResponse:
    """Recent decisions (the last hour, newest 50) and the last hour of metrics, per minute (role push.admin)."""
    require_role(authenticate(request, services), PUSH_ADMIN_ROLE)
    if services.ledger is None:
        raise UpstreamUnavailableError("the decision ledger is not configured")
    recent = await recent_decisions(services.ledger, now=services.now(), minutes=60, limit=50)
    series = (
        services.metrics_series.series(CHART_METRICS) if services.metrics_series else {"minutes": [], "metrics": {}}
    )
    return json_response(
        {
            "recent": [decision_view(decision) for decision in recent],
            "metrics": series,
            "metricsScope": "this instance, last 60 minutes; the fleet is in Application Insights",
        },
        headers=_NO_STORE,
    )


async def get_signin(request: ApiRequest, services: Services) -> ApiResponse:
    """Dev mode only: a form that sets the ``ep_dev_*`` cookies and opens the console. 404 with Easy Auth."""
    if services.settings.auth_mode is not AuthMode.DEV:
        raise NotFoundError("sign in through App Service Authentication")
    page = (WEB / "console" / "signin.html").read_bytes()
    return ApiResponse(200, page, "text/html; charset=utf-8", _PAGE_HEADERS)
