"""TableInboxStore: the users' notification inboxes, table ``inbox``, one partition per user.

Each entry is two rows of the user's partition, written together in one entity-group transaction: ``n:{id}`` is
the entry itself (its etag makes every change conditional), ``t:{inverted time}:{id}`` a copy that sorts newest
first, so a page is one range query. Entries live ``INBOX_RETENTION`` (30 days): listing leaves expired ones out and
a new entry purges a few expired rows of its user, at most once per ``PURGE_EVERY`` of entry time per user and
process (a query on every add was one request in eleven of an in-app delivery, for rows that expire by the month).
Adding and changing an entry are the push function's transactions (twice per event addressed to a user), so they go
through ``TableRowWriter``; reads, lists and purges through the SDK.
"""

from __future__ import annotations

import json
import logging
import re
from collections import OrderedDict
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableEntity
from azure.data.tables.aio import TableServiceClient

from shared.adapters.tables.common import TableSet, as_datetime, encode_key, mapped_errors, optional_datetime, utc
from shared.adapters.tables.row_writer import RowChange, RowConflict, TableRowWriter
from shared.domain.errors import ConflictError, FieldError, NotFoundError, UpstreamError, ValidationError
from shared.domain.inbox import INBOX_CURSOR_PATTERN, INBOX_RETENTION, Decision, InboxEntry, InboxPage

__all__ = ["PURGE_EVERY", "TableInboxStore"]

logger = logging.getLogger(__name__)

TABLE = "inbox"
_INDEX_PREFIX = "t:"
_INDEX_END = "t;"  # the character after ":": every index row sorts below it
_PURGE_BATCH = 20
PURGE_EVERY = timedelta(hours=1)
_PURGES_REMEMBERED = 4096
_CURSOR = re.compile(INBOX_CURSOR_PATTERN)
_TIME_SPAN_MS = 10**15


def _record_key(notification_id: str) -> str:
    return "n:" + encode_key(notification_id)


def _time_key(at: datetime) -> str:
    """Inverted milliseconds: later times sort first."""
    return f"{_INDEX_PREFIX}{_TIME_SPAN_MS - int(utc(at).timestamp() * 1000):015d}"


def _index_key(entry: InboxEntry) -> str:
    return f"{_time_key(entry.created_at)}:{encode_key(entry.notification_id)}"


def _to_entity(entry: InboxEntry, row_key: str) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": encode_key(entry.user_id),
        "RowKey": row_key,
        "UserId": entry.user_id,
        "NotificationId": entry.notification_id,
        "EventType": entry.event_type,
        "Title": entry.title,
        "Body": entry.body,
        "Language": entry.language,
        "DeepLink": entry.deep_link,
        "Category": entry.category,
        "Silent": entry.silent,
        "Data": json.dumps(entry.data, ensure_ascii=False, separators=(",", ":")),
        "CreatedAt": utc(entry.created_at),
        "ExpiresAt": utc(entry.expires_at),
        "Channels": ",".join(entry.channels),
        "Decision": entry.decision.value,
    }
    for name, value in (
        ("InappSentAt", entry.inapp_sent_at),
        ("PushedAt", entry.pushed_at),
        ("SeenAt", entry.seen_at),
        ("ReadAt", entry.read_at),
    ):
        if value is not None:
            entity[name] = utc(value)
    return entity


def _from_entity(entity: TableEntity, version: str | None) -> InboxEntry:
    try:
        return InboxEntry(
            user_id=entity["UserId"],
            notification_id=entity["NotificationId"],
            event_type=entity["EventType"],
            title=entity["Title"],
            body=entity["Body"],
            language=entity["Language"],
            deep_link=entity["DeepLink"],
            category=entity["Category"],
            silent=bool(entity["Silent"]),
            data=json.loads(entity["Data"]),
            created_at=as_datetime(entity["CreatedAt"]),
            expires_at=as_datetime(entity["ExpiresAt"]),
            channels=tuple(c for c in str(entity.get("Channels") or "").split(",") if c),
            decision=Decision(entity["Decision"]),
            inapp_sent_at=optional_datetime(entity.get("InappSentAt")),
            pushed_at=optional_datetime(entity.get("PushedAt")),
            seen_at=optional_datetime(entity.get("SeenAt")),
            read_at=optional_datetime(entity.get("ReadAt")),
            version=version,
        )
    except (KeyError, ValueError) as exc:
        raise UpstreamError(f"an inbox row is not in the expected shape: {type(exc).__name__}") from exc


def _etag(metadata: Any) -> str | None:
    etag = metadata.get("etag") if metadata else None
    return str(etag) if etag else None


def _cursor_of(row_key: str) -> str:
    return row_key.removeprefix(_INDEX_PREFIX)


def _row_key_of(cursor: str) -> str:
    if not _CURSOR.fullmatch(cursor):
        raise ValidationError("the cursor is not one this API handed out", [FieldError("query:cursor", "invalid")])
    return _INDEX_PREFIX + cursor


class TableInboxStore:
    """InboxStore on azure.data.tables.aio and ``TableRowWriter``. Raises UpstreamError (UpstreamUnavailableError when
    transient). ``writer``: the process's writer for the same account (one is made when none is given); ``close``
    ends its HTTP session."""

    def __init__(
        self, service: TableServiceClient, table_prefix: str = "", writer: TableRowWriter | None = None
    ) -> None:
        self._tables = TableSet(service, table_prefix)
        self._writer = writer or TableRowWriter.for_service(service)
        self._last_purge: OrderedDict[str, datetime] = OrderedDict()

    async def close(self) -> None:
        await self._writer.close()

    async def add(self, entry: InboxEntry) -> InboxEntry | None:
        """Insert both rows in one transaction; None when the user already has this notification id."""
        table = await self._tables.get(TABLE)
        rows = [_to_entity(entry, _record_key(entry.notification_id)), _to_entity(entry, _index_key(entry))]
        try:
            etags = await self._writer.transact(
                table.table_name, [RowChange.insert(row) for row in rows], operation="add inbox entry"
            )
        except RowConflict:
            return None
        if self._purge_due(entry.user_id, entry.created_at):
            await self._purge_expired(entry.user_id, entry.created_at)
        return replace(entry, version=etags[0])

    def _purge_due(self, user_id: str, now: datetime) -> bool:
        """Whether this add purges: the user's last purge in this process is ``PURGE_EVERY`` behind ``now``, or
        forgotten (the least recently purged users are forgotten first)."""
        last = self._last_purge.get(user_id)
        if last is not None and now < last + PURGE_EVERY:
            return False
        self._last_purge[user_id] = now
        self._last_purge.move_to_end(user_id)
        if len(self._last_purge) > _PURGES_REMEMBERED:
            self._last_purge.popitem(last=False)
        return True

    async def get(self, user_id: str, notification_id: str) -> InboxEntry | None:
        table = await self._tables.get(TABLE)
        with mapped_errors("get inbox entry"):
            try:
                entity = await table.get_entity(encode_key(user_id), _record_key(notification_id))
            except ResourceNotFoundError:
                return None
        return _from_entity(entity, _etag(entity.metadata))

    async def replace(self, entry: InboxEntry) -> InboxEntry:
        """Both rows, conditional on the entry row's etag. Raises ConflictError or NotFoundError."""
        if entry.version is None:
            raise ConflictError("an inbox entry must be read before it is changed")
        table = await self._tables.get(TABLE)
        changes = [
            RowChange.replace(_to_entity(entry, _record_key(entry.notification_id)), entry.version),
            RowChange.upsert(_to_entity(entry, _index_key(entry))),
        ]
        try:
            etags = await self._writer.transact(table.table_name, changes, operation="update inbox entry")
        except RowConflict as exc:
            if exc.gone:
                raise NotFoundError(f"inbox entry {entry.notification_id} is gone") from exc
            raise ConflictError(f"inbox entry {entry.notification_id} changed meanwhile") from exc
        return replace(entry, version=etags[0])

    async def list(self, user_id: str, *, limit: int, cursor: str | None, now: datetime) -> InboxPage:
        """Newest first: one range query over the index rows, ``limit`` (+1 to know whether more follow)."""
        after = _row_key_of(cursor) if cursor else _INDEX_PREFIX
        table = await self._tables.get(TABLE)
        found: list[TableEntity] = []
        with mapped_errors("list inbox"):
            async for entity in table.query_entities(
                "PartitionKey eq @pk and RowKey gt @after and RowKey lt @end",
                parameters={"pk": encode_key(user_id), "after": after, "end": _INDEX_END},
                results_per_page=limit + 1,
            ):
                found.append(entity)
                if len(found) > limit:
                    break
        current = [e for e in found[:limit] if as_datetime(e["ExpiresAt"]) > utc(now)]
        more = len(found) > limit and len(current) == limit
        return InboxPage(
            items=[_from_entity(e, None) for e in current],
            next_cursor=_cursor_of(found[limit - 1]["RowKey"]) if more else None,
        )

    async def _purge_expired(self, user_id: str, now: datetime) -> None:
        """Delete a few of the user's entries older than the retention; failures only delay it to the next add."""
        cutoff = _time_key(now - INBOX_RETENTION)
        try:
            table = await self._tables.get(TABLE)
            with mapped_errors("purge inbox"):
                expired = []
                async for entity in table.query_entities(
                    "PartitionKey eq @pk and RowKey gt @cutoff and RowKey lt @end",
                    parameters={"pk": encode_key(user_id), "cutoff": cutoff, "end": _INDEX_END},
                    results_per_page=_PURGE_BATCH,
                ):
                    expired.append(entity)
                    if len(expired) >= _PURGE_BATCH:
                        break
                for entity in expired:
                    pk = entity["PartitionKey"]
                    await table.delete_entity(pk, _record_key(entity["NotificationId"]))
                    await table.delete_entity(pk, entity["RowKey"])
        except UpstreamError as exc:
            logger.warning("purging expired inbox rows of a user failed (%s); the next add retries", exc)
