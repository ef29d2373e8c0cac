"""The process's services: every port the app uses, and the one place the use cases' port bundles are built."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.composition.settings import Settings
from shared.domain.redelivery import default_redelivery_backoff
from shared.ports import (
    DeadLetterStore,
    DeliveryLog,
    DeliveryPorts,
    EventPublisher,
    InboxStore,
    InstallationMirror,
    PreferencesStore,
    PushGateway,
    QuarantineStore,
    RealtimeGateway,
    RegistrationPorts,
)

__all__ = ["Services", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """Everything the functions need, built once per process."""

    settings: Settings
    push: PushGateway
    installations: InstallationMirror
    preferences: PreferencesStore
    deliveries: DeliveryLog
    quarantine: QuarantineStore
    publisher: EventPublisher
    dead_letters: DeadLetterStore
    now: Callable[[], datetime] = utc_now
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    redelivery_backoff: Callable[[int], float] = default_redelivery_backoff
    inbox: InboxStore | None = None
    realtime: RealtimeGateway | None = None  # None: SignalR not configured, every notification is pushed

    async def aclose(self) -> None:
        """Close the clients this set created (HTTP pools, credentials), each once."""
        closers, self.closers = self.closers, []
        for close in reversed(closers):
            await close()

    @property
    def registration(self) -> RegistrationPorts:
        return RegistrationPorts(self.push, self.installations, self.preferences, self.now)

    @property
    def delivery(self) -> DeliveryPorts:
        return DeliveryPorts(
            push=self.push,
            deliveries=self.deliveries,
            quarantine=self.quarantine,
            preferences=self.preferences,
            now=self.now,
            redelivery_backoff=self.redelivery_backoff,
            realtime=self.realtime,
            inbox=self.inbox,
            publisher=self.publisher,
            installations=self.installations,
            fallback_after=self.settings.inapp_fallback,
        )
