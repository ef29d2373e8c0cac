"""Ports: what the use cases need from the outside world, as small Protocols, and the bundles they take.

What may live here: Protocols named by role (``PushGateway``, ``DeliveryLog``, ...) whose methods speak the
domain's records and raise only ``shared.domain.errors``, and the frozen bundles of ports each use case takes.
May import the domain and the data shapes of ``shared.notification_hubs.models``; never an adapter or an SDK.
Adapters in ``shared.adapters`` (Azure) and ``local/`` (laptop) implement the Protocols; ``tests/fakes.py``
implements them in memory.
"""

from __future__ import annotations

from shared.ports.bundles import DeliveryPorts, RegistrationPorts
from shared.ports.messaging import DeadLetterStore, EventPublisher
from shared.ports.push import PushGateway
from shared.ports.realtime import ClientConnection, InboxStore, RealtimeGateway
from shared.ports.storage import DeliveryLog, InstallationMirror, PreferencesStore, QuarantineStore

__all__ = [
    "ClientConnection",
    "DeadLetterStore",
    "DeliveryLog",
    "DeliveryPorts",
    "EventPublisher",
    "InboxStore",
    "InstallationMirror",
    "PreferencesStore",
    "PushGateway",
    "QuarantineStore",
    "RealtimeGateway",
    "RegistrationPorts",
]
