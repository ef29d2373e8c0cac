"""PushGateway over the Notification Hubs client: the client's operations, its errors translated to the app's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from shared.domain.errors import NotFoundError, PushRejectedError, UpstreamUnavailableError, ValidationError
from shared.notification_hubs.client import NotificationHubsClient
from shared.notification_hubs.errors import (
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

__all__ = ["NotificationHubsGateway"]


class NotificationHubsGateway:
    """``shared.ports.PushGateway`` on one NotificationHubsClient (owned by the caller)."""

    def __init__(self, client: NotificationHubsClient) -> None:
        self.client = client

    async def create_or_update_installation(self, installation: Installation) -> NhResponse:
        async with _translated():
            return await self.client.create_or_update_installation(installation)

    async def patch_installation(self, installation_id: str, operations: Sequence[PatchOperation]) -> NhResponse:
        async with _translated():
            return await self.client.patch_installation(installation_id, operations)

    async def get_installation(self, installation_id: str) -> Installation:
        async with _translated():
            return await self.client.get_installation(installation_id)

    async def delete_installation(self, installation_id: str) -> NhResponse:
        async with _translated():
            return await self.client.delete_installation(installation_id)

    async def send(self, notification: Notification, *, tag_expression: str | None = None) -> SendResult:
        async with _translated():
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


@asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    """NH's error tree onto the app's: transient, not found, refused before sending, refused by the service."""
    try:
        yield
    except NhThrottledError as exc:
        raise UpstreamUnavailableError(f"Notification Hubs throttled the request: {exc}", exc.retry_after) from exc
    except NhRetryableError as exc:
        raise UpstreamUnavailableError(f"Notification Hubs is unavailable for now: {exc}") from exc
    except NhNotFoundError as exc:
        raise NotFoundError(str(exc)) from exc
    except NhValidationError as exc:
        raise ValidationError(exc.detail, exc.errors) from exc
    except NhRequestError as exc:
        raise PushRejectedError(exc.detail or str(exc)) from exc
