"""The bundles of ports each use case takes; the composition root builds them, tests build them from fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.redelivery import default_redelivery_backoff
from shared.ports.ledger import AudienceCounter, DecisionLedger
from shared.ports.push import PushGateway
from shared.ports.storage import DeliveryLog, InstallationMirror, PreferencesStore, QuarantineStore
from shared.ports.telemetry import NULL_METRICS, PipelineMetrics

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
    # The decision ledger and what it needs; None: decisions are not recorded (and "no device" is not checked).
    ledger: DecisionLedger | None = None
    installations: InstallationMirror | None = None
    audience_sizes: AudienceCounter | None = None
    metrics: PipelineMetrics = NULL_METRICS
    trace_id: Callable[[], str | None] = lambda: None
    # The subscriptions' MaxDeliveryCount (infra/servicebus-topology.json; a test keeps them equal): a transient
    # failure on this delivery is the last one, and the broker dead-letters the message.
    max_delivery_count: int = 5
