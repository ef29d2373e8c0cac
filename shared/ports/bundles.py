"""The bundles of ports each use case takes; the composition root builds them, tests build them from fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.redelivery import default_redelivery_backoff
from shared.ports.campaigns import CampaignStore
from shared.ports.ledger import AudienceCounter, DecisionLedger
from shared.ports.messaging import EventPublisher
from shared.ports.push import PushGateway
from shared.ports.realtime import InboxStore, RealtimeGateway
from shared.ports.secure_content import SecureContentStore
from shared.ports.storage import DeliveryLog, InstallationMirror, PreferencesStore, QuarantineStore
from shared.ports.telemetry import NULL_METRICS, PipelineMetrics

__all__ = ["CampaignPorts", "DeliveryPorts", "RegistrationPorts"]


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
    audience_sizes: AudienceCounter | None = None
    metrics: PipelineMetrics = NULL_METRICS
    trace_id: Callable[[], str | None] = lambda: None
    # The subscriptions' MaxDeliveryCount (infra/servicebus-topology.json; a test keeps them equal): a transient
    # failure on this delivery is the last one, and the broker dead-letters the message.
    max_delivery_count: int = 5
    # Secure-payload events keep their content here before the neutral push goes out (None: no such events).
    secure_content: SecureContentStore | None = None

    # Real-time delivery and the inbox; without them every notification is pushed, as before them.
    realtime: RealtimeGateway | None = None
    inbox: InboxStore | None = None
    publisher: EventPublisher | None = None  # schedules the push fallback
    installations: InstallationMirror | None = None  # the user's language when preferences have none
    fallback_after: timedelta = timedelta(seconds=5)


@dataclass(frozen=True)
class CampaignPorts:
    """What operators' sends need: the API's use cases and the worker that plans, sends and follows them up."""

    push: PushGateway
    installations: InstallationMirror
    preferences: PreferencesStore
    campaigns: CampaignStore
    secure_content: SecureContentStore
    now: Callable[[], datetime]
    # A claimed send not finished after this long is taken over: longer than one NH call with its retries (20 s).
    send_stale_after: timedelta = timedelta(minutes=2)
    # How soon after a send its telemetry is asked for again, and for how long NH may answer "not yet".
    telemetry_poll: timedelta = timedelta(seconds=10)
    telemetry_give_up: timedelta = timedelta(minutes=30)
    # At most this many NH calls at once, this many sends handed over in one worker run, and this many telemetry
    # reads per campaign and run (the rest wait for the next run).
    concurrency: int = 8
    sends_per_run: int = 2000
    telemetry_per_run: int = 500
