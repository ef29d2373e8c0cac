"""TablePreferencesStore: one row per user in the ``preferences`` table; Decimal as text, quiet hours as fields."""

from __future__ import annotations

import json
from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableServiceClient

from shared.adapters.tables.common import TableSet, encode_key, mapped_errors, optional_datetime, utc
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


def _from_entity(entity: TableEntity) -> Preferences:
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
    """PreferencesStore on azure.data.tables.aio. Raises UpstreamError (UpstreamUnavailableError when transient)."""

    def __init__(self, service: TableServiceClient, table_prefix: str = "") -> None:
        self._tables = TableSet(service, table_prefix)

    async def get(self, user_id: str) -> Preferences | None:
        """Return the user's preferences, or None when the user never saved any."""
        table = await self._tables.get(TABLE)
        with mapped_errors("get preferences"):
            try:
                entity = await table.get_entity(encode_key(user_id), _ROW)
            except ResourceNotFoundError:
                return None
        return _from_entity(entity)

    async def put(self, preferences: Preferences) -> None:
        """Replace the user's preferences as a whole (fields set to None are removed)."""
        table = await self._tables.get(TABLE)
        with mapped_errors("put preferences"):
            await table.upsert_entity(_to_entity(preferences), mode=UpdateMode.REPLACE)
