"""How a client operation reaches the hub: URL, SAS and tracking headers, bounded retries, NH's answer as errors."""

from __future__ import annotations

import functools
import logging
import re
import uuid
from collections.abc import Callable, Collection, Mapping
from urllib.parse import quote

import httpx

from shared.notification_hubs.connection import NhConnection
from shared.notification_hubs.errors import NhConfigurationError, NhRequestError, NhTransientError
from shared.notification_hubs.retry import RetryPolicy, Sleep, call_with_retry
from shared.notification_hubs.sas import SasTokenProvider
from shared.notification_hubs.wire import error_for_response

__all__ = ["API_VERSION", "HubRequester", "hub_url"]

logger = logging.getLogger(__name__)

API_VERSION = "2020-06"
_USER_AGENT = f"NHub/{API_VERSION} (api-origin=EnterprisePush)"
_HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


def hub_url(connection: NhConnection, hub_name: str) -> str:
    """The hub's base URL, which is also the audience its SAS tokens are signed for.

    Raises NhConfigurationError for a hub name NH would not accept.
    """
    if not _HUB_NAME.match(hub_name):
        raise NhConfigurationError(f"invalid Notification Hubs hub name {hub_name!r}")
    return connection.base_url + quote(hub_name, safe="/")


class HubRequester:
    """Sends one operation's request to the hub and returns NH's expected answer, or raises.

    Every attempt carries a SAS token (reused until shortly before it expires), ``x-ms-version`` and one
    ``TrackingId`` for all the attempts of the operation. NhRetryableError answers are retried within ``retry``'s
    attempts and budget; any other unexpected status raises the NhRequestError subclass matching it (errors.py).
    """

    def __init__(
        self,
        connection: NhConnection,
        url: str,
        http: httpx.AsyncClient,
        *,
        retry: RetryPolicy,
        timeout: httpx.Timeout,
        clock: Callable[[], float],
        sleep: Sleep,
        monotonic: Callable[[], float],
        extra_headers: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self._url = url
        self._extra_headers = extra_headers
        self._tokens = SasTokenProvider(connection.key_name, connection.key, url, clock=clock)
        self._http = http
        self._retry = retry
        self._timeout = timeout
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic

    async def request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        query: str = "",
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        expected: Collection[int],
        missing_ok: bool = False,
    ) -> httpx.Response:
        """``method`` the hub's ``path`` (``query`` is appended after the api-version, e.g. ``&direct``).

        Returns the response when its status is in ``expected`` (or is 404 and ``missing_ok``). Raises
        NhTransientError for transport failures and the matching NhRequestError subclass for other statuses,
        once retries are used up.
        """
        url = _url(f"{self._url}/{path}?api-version={API_VERSION}{query}")
        tracking_id = str(uuid.uuid4())

        async def attempt() -> httpx.Response:
            request_headers = {
                **(self._extra_headers() if self._extra_headers else {}),
                **(headers or {}),
                "Authorization": self._tokens.token(),
                "x-ms-version": API_VERSION,
                "TrackingId": tracking_id,
                "User-Agent": _USER_AGENT,
            }
            try:
                response = await self._http.request(
                    method, url, content=content, headers=request_headers, timeout=self._timeout
                )
            except httpx.TransportError as exc:
                raise NhTransientError(
                    f"{operation} failed: {type(exc).__name__} talking to Notification Hubs", tracking_id=tracking_id
                ) from exc
            except httpx.HTTPError as exc:
                raise NhRequestError(f"{operation} failed: {type(exc).__name__}", tracking_id=tracking_id) from exc
            logger.debug("NH %s %s -> HTTP %s (TrackingId %s)", operation, method, response.status_code, tracking_id)
            if response.status_code in expected or (missing_ok and response.status_code == 404):
                return response
            raise error_for_response(operation, response, now=self._clock())

        return await call_with_retry(
            attempt, self._retry, operation=operation, sleep=self._sleep, monotonic=self._monotonic
        )


@functools.lru_cache(maxsize=256)
def _url(text: str) -> httpx.URL:
    # httpx parses a URL string in pure Python on every request; a hub has only a few distinct send URLs.
    return httpx.URL(text)
