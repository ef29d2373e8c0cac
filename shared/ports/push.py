"""The push port: device installations and template sends, in Notification Hubs' documented data shapes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

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

__all__ = ["PushGateway"]


class PushGateway(Protocol):
    """Notification Hubs as the use cases see it (``shared.adapters.nh_gateway`` implements it over the client).

    Raises the app's errors only: UpstreamUnavailableError for what may pass (throttling, 5xx, timeouts),
    PushRejectedError when NH refused the request for good, NotFoundError for a missing installation, and
    ValidationError when the request is refused before anything is sent.
    """

    async def create_or_update_installation(self, installation: Installation) -> NhResponse: ...
    async def patch_installation(self, installation_id: str, operations: Sequence[PatchOperation]) -> NhResponse: ...
    async def get_installation(self, installation_id: str) -> Installation: ...
    async def delete_installation(self, installation_id: str) -> NhResponse: ...
    async def send(self, notification: Notification, *, tag_expression: str | None = None) -> SendResult: ...
    async def test_send(
        self, notification: Notification, *, tag_expression: str | None = None
    ) -> NotificationOutcome: ...
    async def schedule(
        self, notification: Notification, at: datetime, *, tag_expression: str | None = None
    ) -> ScheduledSendResult:
        """An NH scheduled send for ``at`` (aware, at most 7 days ahead; Standard tier)."""
        ...

    async def cancel_scheduled(self, scheduled_id: str) -> NhResponse:
        """Cancel an NH scheduled send; NotFoundError when NH no longer holds it (it went out, or never existed)."""
        ...

    async def get_notification_details(self, notification_id: str) -> NotificationDetails:
        """Per-message telemetry (Standard tier); NotFoundError while NH has none yet."""
        ...
