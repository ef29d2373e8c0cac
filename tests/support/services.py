"""The app's services on real adapters for in-process tests: Tables on Azurite under a unique table prefix, the NH
client on an emulator, an in-memory bus; installed with bootstrap.override for the duration of the block."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from local.nh_emulator.config import BACKEND_RULE_NAME, WELL_KNOWN_BACKEND_KEY, connection_string
from shared.adapters.nh_gateway import NotificationHubsGateway
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
)
from shared.composition import root as bootstrap
from shared.composition.correlation import trace_headers
from shared.composition.services import Services
from shared.composition.settings import Settings
from shared.domain.redelivery import default_redelivery_backoff
from shared.notification_hubs.client import NotificationHubsClient
from shared.notification_hubs.retry import RetryPolicy
from shared.ports import NULL_METRICS, EventPublisher, PipelineMetrics, RealtimeGateway
from shared.usecases.decisions import AudienceSizes
from tests.conftest import random_id
from tests.fakes import InMemoryDeadLetters, RecordingPublisher
from tests.support.azurite import table_service

# Who may publish what in every test stack, as in local.settings.json.example: a role per LoB system, and the
# walkthrough's "erp" principal for all of them.
PUBLISHER_SOURCES = json.dumps(
    {
        "roles": {
            "lob.publisher.hr": ["/lob/hr"],
            "lob.publisher.finance": ["/lob/finance"],
            "lob.publisher.accounts": ["/lob/accounts"],
            "lob.publisher.orders": ["/lob/orders"],
        },
        "principals": {"erp": ["/lob/hr", "/lob/finance", "/lob/accounts", "/lob/orders"]},
    }
)


def settings_for(emulator_url: str, hub: str, **overrides: str) -> Settings:
    return Settings.from_env(
        {
            "AUTH_MODE": "dev",
            "LOB_PUBLISHER_SOURCES": PUBLISHER_SOURCES,
            "PUSH_NH_CONNECTION_STRING": connection_string(emulator_url, BACKEND_RULE_NAME, WELL_KNOWN_BACKEND_KEY),
            "PUSH_NH_HUB_NAME": hub,
            "PUSH_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
            **overrides,
        }
    )


@asynccontextmanager
async def app_services(
    tables_connection: str,
    emulator_url: str,
    hub: str,
    *,
    retry: RetryPolicy | None = None,
    redelivery_backoff: Callable[[int], float] = default_redelivery_backoff,
    metrics: PipelineMetrics | None = None,
    realtime: RealtimeGateway | None = None,
    publisher: EventPublisher | None = None,
    **settings_overrides: str,
) -> AsyncIterator[Services]:
    prefix = random_id("t")
    settings = settings_for(emulator_url, hub, **settings_overrides)
    async with table_service(tables_connection, prefix) as tables:
        push = NotificationHubsClient(settings.nh_connection_string, hub, retry=retry, extra_headers=trace_headers)
        orders = TableOrderStore(tables, prefix)
        writer = TableRowWriter.for_service(tables)
        reader = TableRowReader.for_service(tables)
        ledger = TableDecisionLedger(tables, prefix, writer=writer)
        deliveries = TableDeliveryLog(tables, prefix, writer=writer)
        built = Services(
            settings=settings,
            push=NotificationHubsGateway(push),
            installations=TableInstallationMirror(tables, prefix, reader=reader),
            preferences=TablePreferencesStore(tables, prefix, reader=reader),
            deliveries=deliveries,  # as shared.composition.wiring builds it
            quarantine=TableQuarantineStore(tables, prefix),
            publisher=publisher or RecordingPublisher(),
            dead_letters=InMemoryDeadLetters(),
            orders=orders,
            outbox=orders,
            campaigns=TableCampaignStore(tables, prefix),
            secure_content=TableSecureContentStore(tables, prefix, writer=writer),
            now=lambda: datetime.now(UTC),
            redelivery_backoff=redelivery_backoff,
            ledger=ledger,
            metrics=metrics if metrics is not None else NULL_METRICS,
            inbox=TableInboxStore(tables, prefix, writer=writer),
            realtime=realtime,
        )
        built.audience_sizes = AudienceSizes(built.installations)
        try:
            with bootstrap.override(built):
                yield built
        finally:
            await push.aclose()
            await writer.close()
            await reader.close()
