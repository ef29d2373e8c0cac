"""TablePreferencesStore: one row per user in the ``preferences`` table; Decimal as text, quiet hours as fields.

The read is on the push path (every event addressed to one user), so it goes through ``TableRowReader``; the write
through the SDK."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any

from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableServiceClient

from shared.adapters.tables.common import TableSet, encode_key, mapped_errors, optional_datetime, utc
from shared.adapters.tables.row_reader import TableRowReader
from shared.domain.errors import UpstreamError
from shared.domain.records import Preferences, QuietHours

__all__ = ["TablePreferencesStore"]

TABLE = "preferences"
_ROW = "preferences"


def _to_entity(preferences: Preferences) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": encode_key(preferences.user_id),
        "RowKey": _ROW,
        "UserId": preferences.user_id,
        "Interests": json.dumps(list(preferences.interests)),
    }
    if preferences.language is not None:
        entity["Language"] = preferences.language
    if preferences.quiet_hours is not None:
        entity["QuietStart"] = preferences.quiet_hours.start.isoformat()
        entity["QuietEnd"] = preferences.quiet_hours.end.isoformat()
        entity["QuietTimeZone"] = preferences.quiet_hours.time_zone
    if preferences.debit_threshold is not None:
        # Text keeps every digit; Edm.Double would round a threshold like 0.10.
        entity["DebitThreshold"] = str(preferences.debit_threshold)
    if preferences.updated_at is not None:
        entity["UpdatedAt"] = utc(preferences.updated_at)
    return entity


def _from_entity(entity: Mapping[str, Any]) -> Preferences:
    quiet_hours = None
    if entity.get("QuietStart") is not None:
        quiet_hours = QuietHours(
            start=time.fromisoformat(entity["QuietStart"]),
            end=time.fromisoformat(entity["QuietEnd"]),
            time_zone=entity["QuietTimeZone"],
        )
    threshold = None
    if entity.get("DebitThreshold") is not None:
        try:
            threshold = Decimal(entity["DebitThreshold"])
        except InvalidOperation as exc:
            raise UpstreamError("stored debit threshold is not a decimal number") from exc
    return Preferences(
        user_id=entity["UserId"],
        interests=tuple(json.loads(entity["Interests"])),
        language=entity.get("Language"),
        quiet_hours=quiet_hours,
        debit_threshold=threshold,
        updated_at=optional_datetime(entity.get("UpdatedAt")),
    )


class TablePreferencesStore:
    """PreferencesStore on azure.data.tables.aio and ``TableRowReader``. Raises UpstreamError
    (UpstreamUnavailableError when transient). ``reader``: the process's reader for the same account (one is made
    when none is given); ``close`` ends its HTTP session."""

    def __init__(
        self, service: TableServiceClient, table_prefix: str = "", reader: TableRowReader | None = None
    ) -> None:
        self._tables = TableSet(service, table_prefix)
        self._reader = reader or TableRowReader.for_service(service)

    async def close(self) -> None:
        await self._reader.close()

    async def get(self, user_id: str) -> Preferences | None:
        """Return the user's preferences, or None when the user never saved any."""
        table = await self._tables.get(TABLE)
        entity = await self._reader.get(table.table_name, encode_key(user_id), _ROW, operation="get preferences")
        return None if entity is None else _from_entity(entity)

    async def put(self, preferences: Preferences) -> None:
        """Replace the user's preferences as a whole (fields set to None are removed)."""
        table = await self._tables.get(TABLE)
        with mapped_errors("put preferences"):
            await table.upsert_entity(_to_entity(preferences), mode=UpdateMode.REPLACE)
