"""Build the process's services from settings: the SDK adapters are imported here and nowhere in the use cases."""

from __future__ import annotations

from shared.adapters.tables import (
    TableDeliveryLog,
    TableInstallationMirror,
    TablePreferencesStore,
    TableQuarantineStore,
    make_table_service_client,
)
from shared.bootstrap import Services
from shared.config import Settings
from shared.notification_hubs.client import NotificationHubsClient
from shared.ports import DeadLetterStore, EventPublisher

__all__ = ["build_services"]


def build_services(settings: Settings, bus: tuple[EventPublisher, DeadLetterStore] | None) -> Services:
    """One NH client, one TableServiceClient and one Service Bus client for the process. Does no I/O."""
    tables = make_table_service_client(
        settings.tables_endpoint, settings.tables_connection_string, settings.managed_identity_client_id
    )
    if bus is None:
        from shared.adapters.service_bus import service_bus_ports

        bus = service_bus_ports(settings)
    publisher, dead_letters = bus
    return Services(
        settings=settings,
        push=NotificationHubsClient(settings.nh_connection_string, settings.nh_hub_name),
        installations=TableInstallationMirror(tables),
        preferences=TablePreferencesStore(tables),
        deliveries=TableDeliveryLog(tables),
        quarantine=TableQuarantineStore(tables),
        publisher=publisher,
        dead_letters=dead_letters,
    )
