"""The process's services: every port the app uses, and the one place the use cases' port bundles are built."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.composition.correlation import current_trace_id
from shared.composition.settings import Settings
from shared.domain.orders.model import order_id_for
from shared.domain.redelivery import default_redelivery_backoff
from shared.ports import (
    NULL_METRICS,
    AudienceCounter,
    CampaignPorts,
    CampaignStore,
    DeadLetterStore,
    DecisionLedger,
    DeliveryLog,
    DeliveryPorts,
    EventPublisher,
    FulfilmentPorts,
    InboxStore,
    InstallationMirror,
    MetricsSeries,
    OrderPorts,
    OrderStore,
    Outbox,
    PipelineMetrics,
    PreferencesStore,
    PushGateway,
    QuarantineStore,
    RealtimeGateway,
    RegistrationPorts,
    SecureContentStore,
)

__all__ = ["Services", "new_order_id", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_order_id(at: datetime) -> str:
    return order_id_for(at, secrets.randbits(20))


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
    orders: OrderStore
    outbox: Outbox
    campaigns: CampaignStore
    secure_content: SecureContentStore
    now: Callable[[], datetime] = utc_now
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    redelivery_backoff: Callable[[int], float] = default_redelivery_backoff
    ledger: DecisionLedger | None = None
    audience_sizes: AudienceCounter | None = None
    metrics: PipelineMetrics = NULL_METRICS
    metrics_series: MetricsSeries | None = None
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
            ledger=self.ledger,
            audience_sizes=self.audience_sizes,
            metrics=self.metrics,
            trace_id=current_trace_id,
            secure_content=self.secure_content,
            realtime=self.realtime,
            inbox=self.inbox,
            publisher=self.publisher,
            installations=self.installations,
            fallback_after=self.settings.inapp_fallback,
        )

    @property
    def ordering(self) -> OrderPorts:
        return OrderPorts(self.orders, self.outbox, self.publisher, self.now, new_order_id)

    @property
    def fulfilment(self) -> FulfilmentPorts:
        return FulfilmentPorts(
            orders=self.orders,
            outbox=self.outbox,
            publisher=self.publisher,
            quarantine=self.quarantine,
            now=self.now,
            ship_after=self.settings.orders_ship_after,
            deliver_after=self.settings.orders_deliver_after,
            redelivery_backoff=self.redelivery_backoff,
        )

    @property
    def campaign(self) -> CampaignPorts:
        return CampaignPorts(
            push=self.push,
            installations=self.installations,
            preferences=self.preferences,
            campaigns=self.campaigns,
            secure_content=self.secure_content,
            now=self.now,
        )
