"""Ports: what the use cases need from the outside world, as small Protocols, and the bundles they take.

What may live here: Protocols named by role (``PushGateway``, ``DeliveryLog``, ...) whose methods speak the
domain's records and raise only ``shared.domain.errors``, and the frozen bundles of ports each use case takes.
May import the domain and the data shapes of ``shared.notification_hubs.models``; never an adapter or an SDK.
Adapters in ``shared.adapters`` (Azure) and ``local/`` (laptop) implement the Protocols; ``tests/fakes.py``
implements them in memory.
"""

from __future__ import annotations

from shared.ports.bundles import CampaignPorts, DeliveryPorts, RegistrationPorts
from shared.ports.campaigns import CampaignStore
from shared.ports.ledger import AudienceCounter, DecisionLedger, DecisionPage
from shared.ports.messaging import DeadLetterStore, EventPublisher
from shared.ports.orders import FulfilmentPorts, OrderPorts, OrderStore, Outbox
from shared.ports.push import PushGateway
from shared.ports.realtime import ClientConnection, InboxStore, RealtimeGateway
from shared.ports.secure_content import SecureContentStore
from shared.ports.storage import DeliveryLog, InstallationMirror, PreferencesStore, QuarantineStore
from shared.ports.telemetry import NULL_METRICS, MetricsSeries, NullMetrics, PipelineMetrics

__all__ = [
    "NULL_METRICS",
    "AudienceCounter",
    "CampaignPorts",
    "CampaignStore",
    "ClientConnection",
    "DeadLetterStore",
    "DecisionLedger",
    "DecisionPage",
    "DeliveryLog",
    "DeliveryPorts",
    "EventPublisher",
    "FulfilmentPorts",
    "InboxStore",
    "InstallationMirror",
    "MetricsSeries",
    "NullMetrics",
    "OrderPorts",
    "OrderStore",
    "Outbox",
    "PipelineMetrics",
    "PreferencesStore",
    "PushGateway",
    "QuarantineStore",
    "RealtimeGateway",
    "RegistrationPorts",
    "SecureContentStore",
]
