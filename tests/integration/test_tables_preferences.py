"""TablePreferencesStore against Azurite: round trips of every field, including Decimal and quiet hours."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time
from decimal import Decimal

import pytest

from shared.adapters.tables import TablePreferencesStore
from shared.domain.records import Preferences, QuietHours
from tests.conftest import random_id
from tests.support.azurite import table_service

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(azurite_tables: str) -> AsyncIterator[TablePreferencesStore]:
    prefix = random_id("t")
    async with table_service(azurite_tables, prefix) as service:
        preferences = TablePreferencesStore(service, prefix)
        yield preferences
        await preferences.close()


FULL = Preferences(
    user_id="alice",
    interests=("hr", "orders"),
    language="de",
    quiet_hours=QuietHours(start=time(22, 0), end=time(6, 30), time_zone="Europe/Berlin"),
    debit_threshold=Decimal("0.10"),
    updated_at=datetime(2025, 3, 1, 8, 30, 15, 123456, tzinfo=UTC),
)


class TestPreferences:
    async def test_get_returns_what_put_wrote_when_every_field_is_set(self, store: TablePreferencesStore) -> None:
        await store.put(FULL)

        stored = await store.get("alice")

        assert stored == FULL
        assert stored is not None
        assert str(stored.debit_threshold) == "0.10"  # trailing zero kept: stored as text, not a double

    @pytest.mark.parametrize(
        "threshold", [Decimal("12345678901234567890.123456789"), Decimal("0"), Decimal("1E+3"), Decimal("-7.5")]
    )
    async def test_decimal_thresholds_round_trip_exactly(
        self, store: TablePreferencesStore, threshold: Decimal
    ) -> None:
        await store.put(Preferences(user_id="bob", debit_threshold=threshold))

        stored = await store.get("bob")

        assert stored is not None
        assert str(stored.debit_threshold) == str(threshold)

    async def test_defaults_round_trip_when_nothing_was_chosen(self, store: TablePreferencesStore) -> None:
        await store.put(Preferences(user_id="carol"))

        assert await store.get("carol") == Preferences(user_id="carol")

    async def test_put_replaces_so_cleared_fields_come_back_as_none(self, store: TablePreferencesStore) -> None:
        await store.put(FULL)
        await store.put(Preferences(user_id="alice", interests=("hr",)))

        assert await store.get("alice") == Preferences(user_id="alice", interests=("hr",))

    async def test_quiet_hours_keep_seconds_and_zone(self, store: TablePreferencesStore) -> None:
        quiet = QuietHours(start=time(12, 0, 30), end=time(13, 15), time_zone="America/Argentina/Buenos_Aires")
        await store.put(Preferences(user_id="dave", quiet_hours=quiet))

        stored = await store.get("dave")

        assert stored is not None
        assert stored.quiet_hours == quiet

    async def test_get_returns_none_when_the_user_never_saved(self, store: TablePreferencesStore) -> None:
        assert await store.get("nobody") is None

    async def test_user_ids_with_forbidden_key_characters_stay_apart(self, store: TablePreferencesStore) -> None:
        await store.put(Preferences(user_id="a/b", language="en"))
        await store.put(Preferences(user_id="a#b", language="es"))

        first, second = await store.get("a/b"), await store.get("a#b")
        assert first is not None
        assert second is not None
        assert (first.language, second.language) == ("en", "es")
