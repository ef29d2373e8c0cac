"""TableQuarantineStore against Azurite: add, list, get, mark replayed, and bodies beyond one property's limit."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.tables import MAX_STORED_BODY_BYTES, TableQuarantineStore
from shared.domain.errors import NotFoundError
from shared.domain.records import QuarantinedMessage
from tests.conftest import random_id
from tests.support.azurite import table_service

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)


@pytest.fixture
async def store(azurite_tables: str) -> AsyncIterator[TableQuarantineStore]:
    prefix = random_id("t")
    async with table_service(azurite_tables, prefix) as service:
        yield TableQuarantineStore(service, prefix)


def message(**changes: object) -> QuarantinedMessage:
    base = QuarantinedMessage(
        id=random_id("q-"),
        topic="orders",
        subscription="push",
        message_id="m-1",
        reason="unknown_event_type",
        description="orders.order.lost is not in the catalog",
        body=b'{"specversion":"1.0","type":"orders.order.lost"}',
        content_type="application/cloudevents+json",
        subject="orders.order.lost",
        application_properties={"type": "orders.order.lost", "source": "/lob/orders", "note": "grüße"},
        quarantined_at=T0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class TestQuarantine:
    async def test_get_returns_what_add_stored(self, store: TableQuarantineStore) -> None:
        added = message()
        await store.add(added)

        assert await store.get(added.id) == added

    async def test_optional_fields_round_trip_as_none(self, store: TableQuarantineStore) -> None:
        added = message(message_id=None, content_type=None, subject=None, application_properties={}, body=b"")
        await store.add(added)

        assert await store.get(added.id) == added

    async def test_list_returns_every_message_oldest_first(self, store: TableQuarantineStore) -> None:
        newer = message(quarantined_at=T0 + timedelta(minutes=1))
        older = message(id="q#/odd?id")
        await store.add(newer)
        await store.add(older)

        assert await store.list() == [older, newer]

    async def test_mark_replayed_records_the_time(self, store: TableQuarantineStore) -> None:
        added = message()
        await store.add(added)

        await store.mark_replayed(added.id, T0 + timedelta(hours=2))

        assert await store.get(added.id) == replace(added, replayed_at=T0 + timedelta(hours=2))

    async def test_mark_replayed_raises_not_found_when_the_id_is_unknown(self, store: TableQuarantineStore) -> None:
        with pytest.raises(NotFoundError):
            await store.mark_replayed("unknown", T0)

    async def test_get_returns_none_when_the_id_is_unknown(self, store: TableQuarantineStore) -> None:
        assert await store.get("unknown") is None

    async def test_a_body_larger_than_one_property_round_trips(self, store: TableQuarantineStore) -> None:
        added = message(body=os.urandom(MAX_STORED_BODY_BYTES))
        await store.add(added)

        assert await store.get(added.id) == added

    async def test_a_body_over_the_limit_is_truncated_with_a_note(self, store: TableQuarantineStore) -> None:
        added = message(body=os.urandom(MAX_STORED_BODY_BYTES + 10))
        await store.add(added)

        stored = await store.get(added.id)

        assert stored is not None
        assert stored.body == added.body[:MAX_STORED_BODY_BYTES]
        assert stored.description.startswith(added.description)
        assert f"body truncated: {MAX_STORED_BODY_BYTES + 10} bytes" in stored.description
