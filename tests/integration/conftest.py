"""Fixtures of the integration tier: Tables adapters on Azurite, each test under tables of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from azure.data.tables.aio import TableServiceClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.adapters import telemetry
from shared.adapters.tables import TableDeliveryLog
from shared.adapters.tables.row_writer import TableRowWriter
from tests.conftest import random_id
from tests.support.azurite import table_service


@pytest.fixture
def prefix() -> str:
    """A table-name prefix no other test uses, so tests sharing Azurite never see each other's rows."""
    return random_id("t")


@pytest.fixture
async def log(azurite_tables: str, prefix: str) -> AsyncIterator[TableDeliveryLog]:
    """The delivery log on Azurite, in tables created under ``prefix`` for this test."""
    async with table_service(azurite_tables, prefix) as service:
        delivery_log = TableDeliveryLog(service, prefix)
        yield delivery_log
        await delivery_log.close()


@pytest.fixture
async def service(azurite_tables: str) -> AsyncIterator[tuple[TableServiceClient, str]]:
    """The row writer's tests: a service client on Azurite and the name of a fresh table (deleted afterwards)."""
    prefix = random_id("t")
    async with table_service(azurite_tables, prefix) as tables:
        name = f"{prefix}rows"
        await tables.create_table(name)
        yield tables, name


@pytest.fixture
async def writer(service: tuple[TableServiceClient, str]) -> AsyncIterator[TableRowWriter]:
    """A row writer for the account of ``service``."""
    tables, _ = service
    row_writer = TableRowWriter.for_service(tables)
    yield row_writer
    await row_writer.close()


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """The spans the row writer makes, on a tracer of their own."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_tracer", provider.get_tracer("test"))
    return exporter
