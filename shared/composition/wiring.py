"""Build the process's services from settings: the SDK adapters are imported here and nowhere in the use cases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx

from shared.adapters.metrics_history import MetricsHistory
from shared.adapters.nh_gateway import NotificationHubsGateway
from shared.adapters.signalr import SignalRGateway
from shared.adapters.tables import (
    TableCampaignStore,
    TableDecisionLedger,
    TableDeliveryLog,
    TableInboxStore,
    TableInstallationMirror,
    TableOrderStore,
    TablePreferencesStore,
    TableQuarantineStore,
    TableRowReader,
    TableRowWriter,
    TableSecureContentStore,
    make_table_service_client,
)
from shared.adapters.telemetry import OtelMetrics
from shared.composition.correlation import trace_headers
from shared.composition.services import Services
from shared.composition.settings import Settings
from shared.composition.telemetry import configure_telemetry
from shared.domain.channels import FALLBACK_SUBSCRIPTION, FALLBACK_TOPIC, INAPP_HUB
from shared.domain.topics import TOPICS
from shared.notification_hubs.client import NotificationHubsClient
from shared.notification_hubs.http_client import new_http_client
from shared.ports import DeadLetterStore, EventPublisher
from shared.usecases.decisions import AudienceSizes

if TYPE_CHECKING:
    from azure.servicebus.aio import ServiceBusClient

__all__ = ["PUSH_SUBSCRIPTIONS", "build_services"]

# The subscriptions whose dead-letter queues operators see: the push subscription on every LoB topic, the
# order-processing app's fulfilment subscription, and the in-app notifications' push fallback.
PUSH_SUBSCRIPTIONS: tuple[tuple[str, str], ...] = (
    *((topic, "push") for topic in TOPICS),
    ("orders", "fulfilment"),
    (FALLBACK_TOPIC, FALLBACK_SUBSCRIPTION),
)
# SignalR is asked on the way to a push: a slow service must not hold the push up for long.
SIGNALR_TIMEOUT = httpx.Timeout(2.0, connect=1.0)


def build_services(settings: Settings, bus: tuple[EventPublisher, DeadLetterStore] | None) -> Services:
    """One NH client, one TableServiceClient and one Service Bus client for the process, and OpenTelemetry set up
    once. Does no I/O (the local span file is opened for appending)."""
    history = configure_telemetry(settings, MetricsHistory)
    tables = make_table_service_client(
        settings.tables_endpoint, settings.tables_connection_string, settings.managed_identity_client_id
    )
    closers: list[Callable[[], Awaitable[None]]] = []
    if bus is None:
        publisher, dead_letters, client = _service_bus_ports(settings)
        closers.append(client.close)
    else:
        publisher, dead_letters = bus
    nh_client = NotificationHubsClient(settings.nh_connection_string, settings.nh_hub_name, extra_headers=trace_headers)
    closers += [tables.close, nh_client.aclose]
    if tables.credential is not None and hasattr(tables.credential, "close"):
        closers.append(tables.credential.close)
    # One HTTP pool and one token cache each for the push functions' writes and for their reads.
    writer = TableRowWriter.for_service(tables)
    reader = TableRowReader.for_service(tables)
    closers += [writer.close, reader.close]
    installations = TableInstallationMirror(tables, reader=reader)
    orders = TableOrderStore(tables)
    ledger = TableDecisionLedger(tables, retention=timedelta(days=settings.decision_retention_days), writer=writer)
    deliveries = TableDeliveryLog(tables, writer=writer)
    realtime = _realtime(settings, closers)
    return Services(
        settings=settings,
        push=NotificationHubsGateway(nh_client),
        installations=installations,
        preferences=TablePreferencesStore(tables, reader=reader),
        deliveries=deliveries,
        quarantine=TableQuarantineStore(tables),
        publisher=publisher,
        dead_letters=dead_letters,
        orders=orders,
        outbox=orders,
        campaigns=TableCampaignStore(tables),
        secure_content=TableSecureContentStore(tables, writer=writer),
        closers=closers,
        ledger=ledger,
        audience_sizes=AudienceSizes(installations),
        metrics=OtelMetrics(),
        metrics_series=history,
        inbox=TableInboxStore(tables, writer=writer),
        realtime=realtime,
    )


def _realtime(settings: Settings, closers: list[Callable[[], Awaitable[None]]]) -> SignalRGateway | None:
    """SignalR with the access key (local stand-in) or the managed identity (Azure); None when not configured."""
    if not (settings.signalr_connection_string or settings.signalr_endpoint):
        return None
    http = new_http_client(SIGNALR_TIMEOUT)
    closers.append(http.aclose)
    if settings.signalr_connection_string:
        return SignalRGateway.from_connection_string(settings.signalr_connection_string, INAPP_HUB, http)
    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

    credential = (
        ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
        if settings.managed_identity_client_id
        else DefaultAzureCredential()
    )
    closers.append(credential.close)
    assert settings.signalr_endpoint is not None
    return SignalRGateway.with_identity(settings.signalr_endpoint, credential, INAPP_HUB, http)


def _service_bus_ports(settings: Settings) -> tuple[EventPublisher, DeadLetterStore, ServiceBusClient]:
    """azure-servicebus with a connection string (emulator, keys) or the managed identity (Azure)."""
    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

    from shared.adapters.service_bus import (
        ServiceBusDeadLetterStore,
        ServiceBusEventPublisher,
        create_service_bus_client,
    )

    if settings.service_bus_connection_string:
        client = create_service_bus_client(connection_string=settings.service_bus_connection_string)
    else:
        credential = (
            ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
            if settings.managed_identity_client_id
            else DefaultAzureCredential()
        )
        client = create_service_bus_client(
            fully_qualified_namespace=settings.service_bus_namespace, credential=credential
        )
    return ServiceBusEventPublisher(client), ServiceBusDeadLetterStore(client, PUSH_SUBSCRIPTIONS), client
