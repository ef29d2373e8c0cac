"""TableSecureContentStore: the content behind secure pushes, table ``securecontent``.

Partition = user id, row = notification id.

Only what secure-payload sends need (put an item, read one back by its owner); the partition being the user is what
keeps one user from reading another's item. The put is on the push function's path (one per secure send), so it
goes through ``TableRowWriter``; the read through the SDK.
"""

from __future__ import annotations

import json
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableEntity
from azure.data.tables.aio import TableServiceClient

from shared.adapters.tables.common import TableSet, as_datetime, encode_key, mapped_errors, utc
from shared.adapters.tables.row_writer import TableRowWriter
from shared.domain.secure_content import SecureItem

__all__ = ["TableSecureContentStore"]

TABLE = "securecontent"


def _to_entity(item: SecureItem) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": encode_key(item.user_id),
        "RowKey": encode_key(item.notification_id),
        "UserId": item.user_id,
        "NotificationId": item.notification_id,
        "Source": item.source,
        "EventType": item.event_type,
        "Titles": json.dumps(dict(item.titles), ensure_ascii=False),
        "Bodies": json.dumps(dict(item.bodies), ensure_ascii=False),
        "CreatedAt": utc(item.created_at),
        "Sensitive": item.sensitive,
    }
    if item.deep_link is not None:
        entity["DeepLink"] = item.deep_link
    return entity


def _from_entity(entity: TableEntity) -> SecureItem:
    return SecureItem(
        user_id=entity["UserId"],
        notification_id=entity["NotificationId"],
        source=entity["Source"],
        event_type=entity["EventType"],
        titles=json.loads(entity["Titles"]),
        bodies=json.loads(entity["Bodies"]),
        deep_link=entity.get("DeepLink"),
        created_at=as_datetime(entity["CreatedAt"]),
        sensitive=bool(entity["Sensitive"]),
    )


class TableSecureContentStore:
    """SecureContentStore on azure.data.tables.aio and ``TableRowWriter``. Raises UpstreamError
    (UpstreamUnavailableError when transient). ``writer``: the process's writer for the same account (one is made
    when none is given); ``close`` ends its HTTP session."""

    def __init__(
        self, service: TableServiceClient, table_prefix: str = "", writer: TableRowWriter | None = None
    ) -> None:
        self._tables = TableSet(service, table_prefix)
        self._writer = writer or TableRowWriter.for_service(service)

    async def close(self) -> None:
        await self._writer.close()

    async def get(self, user_id: str, notification_id: str) -> SecureItem | None:
        """The user's item, or None: another user's id is simply not in this user's partition."""
        table = await self._tables.get(TABLE)
        with mapped_errors("get inbox item"):
            try:
                entity = await table.get_entity(encode_key(user_id), encode_key(notification_id))
            except ResourceNotFoundError:
                return None
        return _from_entity(entity)

    async def put(self, item: SecureItem) -> None:
        table = await self._tables.get(TABLE)
        await self._writer.upsert(table.table_name, _to_entity(item), operation="put secure content")
