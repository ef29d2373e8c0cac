"""The phone-wall page at / and its JSON feed: each installation with its notifications as a person sees them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response

from local.nh_emulator.context import emulator_of
from local.nh_emulator.state import Delivery

__all__ = ["index", "phones", "signalr_client", "summarize"]

_MAX_SHOWN = 20
# Microsoft's browser build of the official client, served from the project's node_modules (never copied).
SIGNALR_CLIENT = (
    Path(__file__).resolve().parents[2]
    / "node_modules"
    / "@microsoft"
    / "signalr"
    / "dist"
    / "browser"
    / "signalr.min.js"
)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json_summary(payload: Any, platform: str) -> tuple[str, str, bool]:
    if not isinstance(payload, dict):
        return "", "", True
    if platform == "apns":
        alert = _object(payload.get("aps")).get("alert")
        if isinstance(alert, dict):
            return _text(alert.get("title")), _text(alert.get("body")), False
        return "", _text(alert), not alert
    if platform == "fcmv1":
        message = _object(payload.get("message"))
        shown = _object(message.get("notification")) or _object(_object(message.get("android")).get("notification"))
        if shown:
            return _text(shown.get("title")), _text(shown.get("body")), False
        return "", "", True
    shown = _object(payload.get("notification")) or payload
    title, body = _text(shown.get("title")), _text(shown.get("body") or shown.get("message"))
    return title, body, not (title or body)


def _xml_summary(payload: str, wns_type: str) -> tuple[str, str, bool]:
    if wns_type == "wns/raw":
        return "", "", True
    try:
        # Local page rendering the emulator's own recorded payloads.
        root = ElementTree.fromstring(payload)  # noqa: S314
    except ElementTree.ParseError:
        return "", payload[:200], False
    texts = [element.text or "" for element in root.iter() if element.tag.split("}")[-1] == "text"]
    if not texts:
        return "", "", True
    return texts[0], " ".join(texts[1:]), False


def summarize(delivery: Delivery) -> dict[str, Any]:
    """Title, body and silent flag of a delivery, read from its platform's payload."""
    headers = {name.lower(): value for name, value in delivery.headers.items()}
    if delivery.platform in ("wns", "mpns"):
        title, body, silent = _xml_summary(delivery.payload, headers.get("x-wns-type", ""))
    else:
        try:
            title, body, silent = _json_summary(json.loads(delivery.payload), delivery.platform)
        except ValueError:
            title, body, silent = "", delivery.payload[:200], False
    return {
        "notificationId": delivery.notification_id,
        "templateName": delivery.template_name,
        "title": title,
        "body": body,
        "silent": silent,
        "receivedAt": delivery.received_at,
    }


def _language(tags: list[str]) -> str | None:
    return next((tag.split(":", 1)[1] for tag in tags if tag.startswith("lang:")), None)


async def phones(request: Request) -> Response:
    """JSON for the page: one entry per installation, newest notifications first."""
    state = emulator_of(request).state
    cards = []
    for installation in sorted(state.visible_installations(), key=lambda i: i["installationId"]):
        installation_id = installation["installationId"]
        received = [d for d in state.deliveries if d.installation_id == installation_id]
        tags = list(installation.get("tags", []))
        cards.append(
            {
                "installationId": installation_id,
                "platform": installation["platform"],
                "userId": installation.get("userId"),
                "language": _language(tags),
                "tags": tags,
                "pushChannelExpired": bool(installation.get("pushChannelExpired")),
                "notifications": [summarize(d) for d in reversed(received[-_MAX_SHOWN:])],
            }
        )
    config = emulator_of(request).config
    return JSONResponse({"hub": config.hub, "appApi": config.app_api, "phones": cards})


async def index(request: Request) -> Response:
    """The page itself (no external assets)."""
    html = resources.files("local.nh_emulator").joinpath("static/index.html").read_text(encoding="utf-8")
    return HTMLResponse(html)


async def signalr_client(_request: Request) -> Response:
    """The official SignalR client for the page's "open the app"; 404 until ``npm ci`` has installed it."""
    if not SIGNALR_CLIENT.is_file():
        return JSONResponse({"detail": "node_modules/@microsoft/signalr is missing: run npm ci"}, status_code=404)
    return FileResponse(SIGNALR_CLIENT, media_type="text/javascript")
