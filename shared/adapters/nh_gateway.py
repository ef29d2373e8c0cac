"""PushGateway over the Notification Hubs client: the client's operations, its errors translated to the app's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import httpx

from shared.adapters import telemetry
from shared.domain.decisions import FailureCause
from shared.domain.errors import NotFoundError, PushRejectedError, UpstreamUnavailableError, ValidationError
from shared.notification_hubs.client import NotificationHubsClient
from shared.notification_hubs.errors import (
    NhAuthenticationError,
    NhForbiddenError,
    NhNotFoundError,
    NhRequestError,
    NhRetryableError,
    NhThrottledError,
    NhValidationError,
)
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

__all__ = ["NotificationHubsGateway", "failure_cause"]


class NotificationHubsGateway:
    """``shared.ports.PushGateway`` on one NotificationHubsClient (owned by the caller)."""

    def __init__(self, client: NotificationHubsClient) -> None:
        self.client = client

    async def create_or_update_installation(self, installation: Installation) -> NhResponse:
        async with _translated("register"):
            return await self.client.create_or_update_installation(installation)

    async def patch_installation(self, installation_id: str, operations: Sequence[PatchOperation]) -> NhResponse:
        async with _translated():
            return await self.client.patch_installation(installation_id, operations)

    async def get_installation(self, installation_id: str) -> Installation:
        async with _translated():
            return await self.client.get_installation(installation_id)

    async def delete_installation(self, installation_id: str) -> NhResponse:
        async with _translated("unregister"):
            return await self.client.delete_installation(installation_id)

    async def send(self, notification: Notification, *, tag_expression: str | None = None) -> SendResult:
        """A template send inside a client span, so its request carries this trace's ``traceparent``."""
        with telemetry.nh_span("send", tag_expression):
            async with _translated("send"):
                return await self.client.send(notification, tag_expression=tag_expression)

    async def test_send(self, notification: Notification, *, tag_expression: str | None = None) -> NotificationOutcome:
        async with _translated():
            return await self.client.test_send(notification, tag_expression=tag_expression)

    async def schedule(
        self, notification: Notification, at: datetime, *, tag_expression: str | None = None
    ) -> ScheduledSendResult:
        async with _translated():
            return await self.client.schedule(notification, at, tag_expression=tag_expression)

    async def cancel_scheduled(self, scheduled_id: str) -> NhResponse:
        async with _translated():
            return await self.client.cancel_scheduled(scheduled_id)

    async def get_notification_details(self, notification_id: str) -> NotificationDetails:
        async with _translated():
            return await self.client.get_notification_details(notification_id)


def failure_cause(exc: NhRequestError) -> FailureCause:
    """What kind of failure an NH error is, for the ledger and the ``push.nh.sends`` metric."""
    if isinstance(exc, NhThrottledError):
        return FailureCause.THROTTLED
    if isinstance(exc, NhAuthenticationError | NhForbiddenError):
        return FailureCause.AUTH
    if isinstance(exc, NhNotFoundError):
        return FailureCause.NOT_FOUND
    if isinstance(exc, NhRetryableError):
        timed_out = isinstance(exc.__cause__, httpx.TimeoutException) or exc.status_code == 408
        return FailureCause.TIMEOUT if timed_out else FailureCause.UNAVAILABLE
    if exc.status_code == 410 or "channel" in (exc.detail or "").lower():
        return FailureCause.BAD_CHANNEL
    return FailureCause.BAD_REQUEST


@asynccontextmanager
async def _translated(operation: str | None = None) -> AsyncIterator[None]:
    """NH's error tree onto the app's: transient, not found, refused before sending, refused by the service.

    ``operation`` (send, register, unregister) is counted in the metrics with its outcome and failure cause.
    """
    try:
        yield
    except NhValidationError as exc:
        telemetry.nh_call(operation, FailureCause.BAD_REQUEST)
        raise ValidationError(exc.detail, exc.errors) from exc
    except NhRequestError as exc:
        cause = failure_cause(exc)
        telemetry.nh_call(operation, cause)
        if isinstance(exc, NhThrottledError):
            message = f"Notification Hubs throttled the request: {exc}"
            raise UpstreamUnavailableError(message, exc.retry_after, cause=cause) from exc
        if isinstance(exc, NhRetryableError):
            raise UpstreamUnavailableError(f"Notification Hubs is unavailable for now: {exc}", cause=cause) from exc
        if isinstance(exc, NhNotFoundError):
            raise NotFoundError(str(exc)) from exc
        raise PushRejectedError(exc.detail or str(exc), cause=cause) from exc
    telemetry.nh_call(operation, None)
