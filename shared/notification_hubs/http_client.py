"""The httpx.AsyncClient a NotificationHubsClient makes for itself when it is given none.

The composition root gives one to the SignalR gateway too: presence checks and sends to a user are the same kind
of small request with a short answer, and httpx's default pool cost about 1.3 ms more CPU per presence check.
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.notification_hubs.transport import Http11Transport

__all__ = ["new_http_client"]


def new_http_client(timeout: httpx.Timeout) -> httpx.AsyncClient:
    """An httpx.AsyncClient on Http11Transport with lean cookie handling (what a NotificationHubsClient makes)."""
    return _LeanCookiesClient(timeout=timeout, transport=Http11Transport())


class _SetCookieCookies(httpx.Cookies):
    """httpx's cookie store, except that answers without Set-Cookie (all of NH's) skip http.cookiejar.

    For every answer httpx otherwise wraps the request as a urllib Request and copies the headers into an
    email.Message for the jar to look at, which costs more CPU than the rest of httpx's answer handling.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class _LeanCookiesClient(httpx.AsyncClient):
    """httpx.AsyncClient keeping its cookies in _SetCookieCookies (httpx takes no argument for the store's class)."""

    def __init__(self, *, cookies: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cookies = cookies

    @property
    def cookies(self) -> httpx.Cookies:
        return self._set_cookie_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._set_cookie_cookies = _SetCookieCookies(cookies)
