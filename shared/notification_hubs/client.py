"""Async Notification Hubs data-plane client: installations, sends, scheduled sends, test sends and telemetry."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import quote

import httpx

from shared.notification_hubs.connection import NhConnection, parse_connection_string
from shared.notification_hubs.errors import NhValidationError
from shared.notification_hubs.http_client import new_http_client
from shared.notification_hubs.identifiers import validate_installation_id
from shared.notification_hubs.models import (
    Installation,
    NhResponse,
    Notification,
    NotificationDetails,
    NotificationOutcome,
    PatchOperation,
    ScheduledSendResult,
    SendResult,
)
from shared.notification_hubs.requester import HubRequester, hub_url
from shared.notification_hubs.retry import RetryPolicy, Sleep
from shared.notification_hubs.validation import (
    check_body_size,
    located,
    validate_handle,
    validate_handles,
    validate_installation,
    validate_notification,
    validate_patch,
    validate_resource_id,
    validate_schedule_time,
    validate_tag_expression,
)
from shared.notification_hubs.wire import (
    XmlRefusedError,
    batch_body,
    json_body,
    nh_response,
    parse_notification_details,
    parse_notification_outcome,
    schedule_time_header,
    scheduled_result,
    send_result,
    unreadable_error,
)

__all__ = ["DEFAULT_TIMEOUT", "NotificationHubsClient"]

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_JSON = "application/json"


class NotificationHubsClient:
    """One hub's data plane over one reused httpx.AsyncClient, with SAS auth, typed errors and bounded retries.

    Every method validates its input first (NhValidationError, nothing sent) and raises the NhRequestError
    subclass matching NH's answer (see errors.py) once retries of NhRetryableError are used up.
    """

    def __init__(
        self,
        connection: NhConnection | str,
        hub_name: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        extra_headers: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        """Raises NhConfigurationError for a bad connection string or hub name.

        ``extra_headers`` is called for every request; what it returns is sent too (the app's ``traceparent``).
        """
        if isinstance(connection, str):
            connection = parse_connection_string(connection)
        self._hub_url = hub_url(connection, hub_name)
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else new_http_client(timeout)
        self._clock = clock
        self._hub = HubRequester(
            connection,
            self._hub_url,
            self._http,
            retry=retry if retry is not None else RetryPolicy(),
            timeout=timeout,
            clock=clock,
            sleep=sleep,
            monotonic=monotonic,
            extra_headers=extra_headers,
        )

    @property
    def hub_url(self) -> str:
        """The hub's base URL (also the SAS audience)."""
        return self._hub_url

    async def aclose(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> NotificationHubsClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # Installations

    async def create_or_update_installation(self, installation: Installation) -> NhResponse:
        """PUT (create or replace) an installation. Raises NhValidationError or an NhRequestError subclass."""
        validate_installation(installation)
        content = json_body(installation.to_wire())
        check_body_size(content)
        response = await self._hub.request(
            "create_or_update_installation",
            "PUT",
            _installation_path(installation.installation_id),
            content=content,
            headers={"Content-Type": _JSON},
            expected={200},
        )
        return nh_response(response)

    async def patch_installation(self, installation_id: str, operations: Sequence[PatchOperation]) -> NhResponse:
        """PATCH an installation with add/remove/replace operations. Raises NhValidationError, NhNotFoundError, ..."""
        _validate_installation_id(installation_id)
        validate_patch(operations)
        content = json_body([operation.to_wire() for operation in operations])
        check_body_size(content)
        response = await self._hub.request(
            "patch_installation",
            "PATCH",
            _installation_path(installation_id),
            content=content,
            headers={"Content-Type": "application/json-patch+json"},
            expected={200},
        )
        return nh_response(response)

    async def get_installation(self, installation_id: str) -> Installation:
        """GET an installation. Raises NhNotFoundError when NH does not have it (yet), or another NhRequestError."""
        _validate_installation_id(installation_id)
        response = await self._hub.request(
            "get_installation", "GET", _installation_path(installation_id), expected={200}
        )
        try:
            # NH labels this JSON body application/xml (NH-REST §3.5), so the content type is ignored.
            return Installation.from_wire(json.loads(response.content))
        except (ValueError, TypeError, AttributeError, NhValidationError) as exc:
            raise unreadable_error("get_installation", response, "installation JSON") from exc

    async def delete_installation(self, installation_id: str) -> NhResponse:
        """DELETE an installation; succeeds also when it is already gone. Raises an NhRequestError subclass."""
        _validate_installation_id(installation_id)
        response = await self._hub.request(
            "delete_installation",
            "DELETE",
            _installation_path(installation_id),
            expected={204},
            missing_ok=True,
        )
        return nh_response(response)

    # Sends

    async def send(self, notification: Notification, *, tag_expression: str | None = None) -> SendResult:
        """Send to a tag or tag expression, or to everyone when it is None. Raises NhValidationError, NhRequestError."""
        headers = _send_headers(notification, tag_expression)
        response = await self._post_notification("send", "messages", notification, headers, "")
        return send_result(response)

    async def send_direct(self, notification: Notification, handle: str) -> SendResult:
        """Send to one PNS handle, without an installation. Raises NhValidationError or an NhRequestError subclass."""
        validate_handle(handle)
        headers = _send_headers(notification, None)
        headers["ServiceBusNotification-DeviceHandle"] = handle
        response = await self._post_notification("send_direct", "messages", notification, headers, "&direct")
        return send_result(response)

    async def send_direct_batch(self, notification: Notification, handles: Sequence[str]) -> SendResult:
        """Send to up to 1000 PNS handles in one multipart request. Raises NhValidationError or NhRequestError."""
        validate_handles(handles)
        headers = _send_headers(notification, None)
        content_type, content = batch_body(notification.content_type, notification.body, handles)
        headers["Content-Type"] = content_type
        check_body_size(content)
        response = await self._hub.request(
            "send_direct_batch", "POST", "messages/$batch", query="&direct", content=content, headers=headers,
            expected={201},
        )  # fmt: skip
        return send_result(response)

    async def schedule(
        self, notification: Notification, at: datetime, *, tag_expression: str | None = None
    ) -> ScheduledSendResult:
        """Schedule a send for ``at`` (aware, at most 7 days ahead). Raises NhValidationError or NhRequestError."""
        validate_schedule_time(at, datetime.fromtimestamp(self._clock(), UTC))
        headers = _send_headers(notification, tag_expression)
        headers["ServiceBusNotification-ScheduleTime"] = schedule_time_header(at)
        response = await self._post_notification("schedule", "schedulednotifications", notification, headers, "")
        return scheduled_result(response)

    async def cancel_scheduled(self, scheduled_id: str) -> NhResponse:
        """Cancel a scheduled send. Raises NhNotFoundError when NH does not know it, or another NhRequestError."""
        validate_resource_id(scheduled_id, "scheduled_id")
        response = await self._hub.request(
            "cancel_scheduled", "DELETE", f"schedulednotifications/{quote(scheduled_id, safe='')}", expected={200}
        )
        return nh_response(response)

    async def test_send(self, notification: Notification, *, tag_expression: str | None = None) -> NotificationOutcome:
        """Debug send (NH throttles it to 10 a minute) returning per-device outcomes. Raises NhRequestError, ..."""
        headers = _send_headers(notification, tag_expression)
        response = await self._post_notification("test_send", "messages", notification, headers, "&test", {200, 201})
        try:
            return parse_notification_outcome(response.content)
        except (XmlRefusedError, ValueError) as exc:
            raise unreadable_error("test_send", response, "NotificationOutcome XML") from exc

    async def get_notification_details(self, notification_id: str) -> NotificationDetails:
        """Per-message telemetry (Standard tier). Raises NhNotFoundError while NH has none yet, or NhRequestError."""
        validate_resource_id(notification_id, "notification_id")
        response = await self._hub.request(
            "get_notification_details", "GET", f"messages/{quote(notification_id, safe='')}", expected={200}
        )
        try:
            return parse_notification_details(response.content)
        except (XmlRefusedError, ValueError) as exc:
            raise unreadable_error("get_notification_details", response, "NotificationDetails XML") from exc

    # Plumbing

    async def _post_notification(
        self,
        operation: str,
        path: str,
        notification: Notification,
        headers: dict[str, str],
        query: str,
        expected: Collection[int] = frozenset({201}),
    ) -> httpx.Response:
        content = notification.body.encode("utf-8")
        check_body_size(content)
        return await self._hub.request(
            operation, "POST", path, query=query, content=content, headers=headers, expected=expected
        )


def _validate_installation_id(installation_id: str) -> None:
    with located("installation_id"):
        validate_installation_id(installation_id)


def _installation_path(installation_id: str) -> str:
    # '#' and '/' must not end the path segment; the rest of NH's id charset is legal in a path.
    return f"installations/{quote(installation_id, safe='@:=')}"


def _send_headers(notification: Notification, tag_expression: str | None) -> dict[str, str]:
    validate_notification(notification)
    if tag_expression is not None:
        validate_tag_expression(tag_expression)
    headers = dict(notification.headers)
    headers["Content-Type"] = notification.content_type
    headers["ServiceBusNotification-Format"] = notification.format
    if tag_expression is not None:
        headers["ServiceBusNotification-Tags"] = tag_expression
    return headers
