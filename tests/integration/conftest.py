"""Fixtures of the integration tier: Tables adapters on Azurite, each test under tables of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.adapters.tables import TableDeliveryLog
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
