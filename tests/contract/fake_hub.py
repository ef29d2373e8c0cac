"""A scripted Notification Hubs for the wire tests: httpx.MockTransport replies and checks against NH-REST.md."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote

import httpx

from shared.notification_hubs import Installation, InstallationTemplate

DATA = Path(__file__).parent / "data"  # examples from the NH REST documentation
KEY = "dGVzdGtleXRlc3RrZXl0ZXN0a2V5dGVzdGtleTEyMzQ="
KEY_NAME = "DefaultFullSharedAccessSignature"
CONNECTION_STRING = f"Endpoint=sb://myns.servicebus.windows.net/;SharedAccessKeyName={KEY_NAME};SharedAccessKey={KEY}"
HUB_URL = "https://myns.servicebus.windows.net/myhub"
NOW = 1_700_000_000.0
NOTIFICATION_ID = "2e7f83cc61d44e3d9397c86939918508-20200723042753-586152-10"
LOCATION = f"{HUB_URL}/messages/{NOTIFICATION_ID}?api-version=2020-06"

Reply = httpx.Response | Exception


class FakeHub:
    """A MockTransport handler that records requests and plays back scripted replies (the last one repeats)."""

    def __init__(self, *replies: Reply | Callable[[httpx.Request], Reply]) -> None:
        self.replies = list(replies) or [httpx.Response(200)]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if callable(reply) and not isinstance(reply, httpx.Response):
            reply = reply(request)
        if isinstance(reply, Exception):
            raise reply
        return reply

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def nh_reply(status: int, *, body: bytes = b"", headers: dict[str, str] | None = None) -> httpx.Response:
    """An answer with the headers NH always sends (TrackingId, correlation id); XML content type with a body."""
    base = {"TrackingId": "tracking-from-nh", "x-ms-correlation-request-id": "correlation-1"}
    if body:
        base["Content-Type"] = "application/xml; charset=utf-8"
    return httpx.Response(status, content=body, headers={**base, **(headers or {})})


def created(location: str = LOCATION) -> httpx.Response:
    """201 with a Location, as NH answers a send."""
    return nh_reply(201, headers={"Location": location})


def error_body(status: int, detail: str) -> bytes:
    """NH's XML error document."""
    return f"<Error><Code>{status}</Code><Detail>{detail}</Detail></Error>".encode()


def assert_common_headers(request: httpx.Request) -> None:
    """SAS token shape and signature, api-version header, a uuid TrackingId."""
    auth = request.headers["Authorization"]
    assert auth.startswith("SharedAccessSignature ")
    fields = dict(part.split("=", 1) for part in auth.removeprefix("SharedAccessSignature ").split("&"))
    assert list(fields) == ["sr", "sig", "se", "skn"]
    assert fields["sr"] == quote(HUB_URL.lower(), safe="")
    assert fields["skn"] == KEY_NAME
    assert int(fields["se"]) > NOW
    expected = hmac.new(KEY.encode(), f"{fields['sr']}\n{fields['se']}".encode(), hashlib.sha256).digest()
    assert unquote(fields["sig"]) == base64.b64encode(expected).decode()
    assert request.headers["x-ms-version"] == "2020-06"
    assert len(request.headers["TrackingId"]) == 36


def query_of(request: httpx.Request) -> str:
    """The raw query string of a recorded request."""
    return request.url.query.decode()


def installation() -> Installation:
    """An iPhone installation with one template, as the app registers it."""
    return Installation(
        installation_id="inst-1",
        platform="apns",
        push_channel="62BC1E03A5D5C3AE",
        user_id="alice",
        tags=["user:alice", "lang:en"],
        templates={"alert": InstallationTemplate(body='{"aps":{"alert":"$(title_en)"}}', tags=["alert"])},
    )
