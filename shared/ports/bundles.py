"""The bundles of ports each use case takes; the composition root builds them, tests build them from fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.redelivery import default_redelivery_backoff
from shared.ports.messaging import EventPublisher
from shared.ports.push import PushGateway
from shared.ports.realtime import InboxStore, RealtimeGateway
from shared.ports.storage import DeliveryLog, InstallationMirror, PreferencesStore, QuarantineStore

__all__ = ["DeliveryPorts", "RegistrationPorts"]


@dataclass(frozen=True)
class RegistrationPorts:
    """What registering devices and changing preferences needs."""

    push: PushGateway
    installations: InstallationMirror
    preferences: PreferencesStore
    now: Callable[[], datetime]


@dataclass(frozen=True)
class DeliveryPorts:
    """What delivering one LoB event needs."""

    push: PushGateway
    deliveries: DeliveryLog
    quarantine: QuarantineStore
    preferences: PreferencesStore
    now: Callable[[], datetime]
    # Longer than one send with its in-process retries can take, so a live holder is never taken over.
    stale_after: timedelta = timedelta(seconds=90)
    in_progress_poll: float = 0.25
    redelivery_backoff: Callable[[int], float] = default_redelivery_backoff
    finish_attempts: int = 5
    # Real-time delivery and the inbox; without them every notification is pushed, as before them.
    realtime: RealtimeGateway | None = None
    inbox: InboxStore | None = None
    publisher: EventPublisher | None = None  # schedules the push fallback
    installations: InstallationMirror | None = None  # the user's language when preferences have none
    fallback_after: timedelta = timedelta(seconds=5)
