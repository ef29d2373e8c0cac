"""TableDecisionLedger: the decision ledger in table ``decisions``, three rows per decision addressed to a user and two
per broadcast, so that every query the operators ask reads one partition (or a handful), never the whole table.

| row   | PartitionKey                    | RowKey                                               | answers           |
|-------|---------------------------------|------------------------------------------------------|-------------------|
| event | ``ev.{bucket 00-15}``           | ``{event hash}:{channel}:u:{user}`` (broadcast:      | ``?eventId=``     |
|       |                                 | ``{event hash}:{channel}:*``)                        |                   |
| user  | ``u:{user}`` (broadcasts: ``b``)| ``{newest-first ticks}:{event id}:{channel}``        | ``?userId=``      |
| time  | ``t:{yyyymmddhh}:{bucket 0-3}`` | ``{newest-first ticks}:{event id}:{channel}:{user}`` | the console feed  |

The console feed reads the time rows of the window and the broadcast partition ``b`` (a broadcast has no time row).

An event's rows are one RowKey range (its hash, 32 hex digits, then ``:``) in one of 16 bucket partitions, not a
partition of their own: Azurite slows down with every partition a table holds (a ledger of 18,000 events took 8× as
long per write as an empty one), so a partition per event made the local stack slower the longer it ran. Sixteen
buckets stay far below Azure's per-partition write limit. Rows written before the buckets (partition
``e:{event id}``) are still read for an event that has none in its bucket, until their retention ends.

Keys that are not plain are base64url-encoded (``encode_key``); the ticks stay plain so rows sort newest first and
``since`` is a RowKey range. The ticks are the event's occurrence time, the same on every redelivery, so a later
decision replaces the row instead of adding one. Four buckets per hour keep the console's feed off a single
partition's write limit. Every row carries ``ExpiresAt``; ``sweep`` (a daily timer) deletes expired rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import zlib
from datetime import datetime, timedelta
from typing import Any

from azure.data.tables import TableEntity
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.adapters.tables.common import TableSet, as_datetime, encode_key, mapped_errors, utc
from shared.adapters.tables.row_writer import TableRowWriter
from shared.domain.decisions import Channel, Decision, Outcome
from shared.domain.errors import FieldError, ValidationError
from shared.ports.ledger import LEDGER_CURSOR_PATTERN, DecisionPage

__all__ = ["DEFAULT_RETENTION", "TABLE", "TableDecisionLedger"]

TABLE = "decisions"
DEFAULT_RETENTION = timedelta(days=30)
_BUCKETS = 4
_MAX_TICKS = 10**19 - 1
_MAX_FEED_HOURS = 48
_SWEEP_CONCURRENCY = 16
_CURSOR = re.compile(LEDGER_CURSOR_PATTERN)
_BROADCASTS = "b"
_EVENT_BUCKETS = 16
_BUCKETED_CURSOR = re.compile(r"[0-9a-f]{32}:.*")


def _ticks(at: datetime) -> str:
    micros = int(utc(at).timestamp() * 1_000_000)
    return f"{_MAX_TICKS - micros:019d}"


def _since_bound(since: datetime) -> str:
    """RowKeys below this bound belong to events that occurred at or after ``since``."""
    bound = int(_ticks(since)) + 1
    # Before 1970 the ticks outgrow 19 digits; every RowKey starts with a digit, so ":" is above them all.
    return f"{bound:019d}" if bound <= _MAX_TICKS else ":"


def _recipient(decision: Decision) -> str:
    return "*" if decision.user_id is None else f"u:{decision.user_id}"


def _hour(at: datetime) -> str:
    return utc(at).strftime("%Y%m%d%H")


def _bucket(event_id: str) -> int:
    return zlib.crc32(event_id.encode("utf-8", "surrogatepass")) % _BUCKETS


def _event_hash(event_id: str) -> str:
    return hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _event_partition(event_hash: str) -> str:
    return f"ev.{int(event_hash[:8], 16) % _EVENT_BUCKETS:02d}"


def _keys(decision: Decision) -> list[tuple[str, str]]:
    """The decision's rows. A broadcast has no feed row: its ``b`` row is already in time order, and ``recent``
    reads that partition too (one write fewer for every broadcast event)."""
    ticks = _ticks(decision.occurred_at)
    channel = decision.channel.value
    event_hash = _event_hash(decision.event_id)
    event_row = (_event_partition(event_hash), f"{event_hash}:" + encode_key(f"{channel}:{_recipient(decision)}"))
    if decision.user_id is None:
        return [event_row, (_BROADCASTS, f"{ticks}:" + encode_key(f"{decision.event_id}:{channel}"))]
    return [
        event_row,
        (encode_key(f"u:{decision.user_id}"), f"{ticks}:" + encode_key(f"{decision.event_id}:{channel}")),
        (
            f"t:{_hour(decision.occurred_at)}:{_bucket(decision.event_id)}",
            f"{ticks}:" + encode_key(f"{decision.event_id}:{channel}:{_recipient(decision)}"),
        ),
    ]


def _properties(decision: Decision, retention: timedelta) -> dict[str, Any]:
    values: dict[str, Any] = {
        "EventId": decision.event_id,
        "EventType": decision.event_type,
        "Outcome": decision.outcome.value,
        "Reason": decision.reason,
        "Channel": decision.channel.value,
        "UserId": decision.user_id,
        "Audience": decision.audience,
        "AudienceSize": decision.audience_size,
        "NotificationId": decision.notification_id,
        "NhOutcome": decision.nh_outcome,
        "Detail": (decision.detail or "")[:4000] or None,
        "CampaignId": decision.campaign_id,
        "TraceId": decision.trace_id,
        "Subscription": decision.subscription,
        "Attempt": decision.attempt,
        "LatencyMs": decision.latency_ms,
        "DeadLettered": decision.dead_lettered,
        "OccurredAt": utc(decision.occurred_at),
        "DecidedAt": utc(decision.decided_at),
        "ExpiresAt": utc(decision.decided_at) + retention,
    }
    return {key: value for key, value in values.items() if value is not None}


def _decision(entity: TableEntity) -> Decision:
    return Decision(
        event_id=entity["EventId"],
        event_type=entity.get("EventType"),
        outcome=Outcome(entity["Outcome"]),
        reason=entity["Reason"],
        channel=Channel(entity.get("Channel", Channel.PUSH.value)),
        user_id=entity.get("UserId"),
        audience=entity.get("Audience"),
        audience_size=entity.get("AudienceSize"),
        notification_id=entity.get("NotificationId"),
        nh_outcome=entity.get("NhOutcome"),
        detail=entity.get("Detail"),
        campaign_id=entity.get("CampaignId"),
        trace_id=entity.get("TraceId"),
        subscription=entity.get("Subscription"),
        attempt=int(entity.get("Attempt", 1)),
        latency_ms=entity.get("LatencyMs"),
        dead_lettered=bool(entity.get("DeadLettered", False)),
        occurred_at=as_datetime(entity["OccurredAt"]),
        decided_at=as_datetime(entity["DecidedAt"]),
    )


def _checked_cursor(cursor: str) -> str:
    """The RowKey the next page starts after; any key of the cursor's shape is a position in the partition."""
    if not _CURSOR.fullmatch(cursor):
        raise ValidationError("the cursor is not one this API handed out", [FieldError("cursor", "invalid")])
    return cursor


class TableDecisionLedger:
    """``shared.ports.DecisionLedger`` on azure.data.tables.aio, its writes through ``TableRowWriter`` (cheaper per
    row; see there). Raises UpstreamError (UpstreamUnavailableError when transient); ValidationError for a cursor
    not of the shape LEDGER_CURSOR_PATTERN. ``writer``: the process's writer for the same account (one is made when
    none is given); ``close`` ends its HTTP session.
    """

    def __init__(
        self,
        service: TableServiceClient,
        table_prefix: str = "",
        retention: timedelta = DEFAULT_RETENTION,
        writer: TableRowWriter | None = None,
    ) -> None:
        self._tables = TableSet(service, table_prefix)
        self._retention = retention
        self._writer = writer or TableRowWriter.for_service(service)

    async def record(self, decision: Decision) -> None:
        """Upsert the decision's rows (concurrently; each replaces an earlier decision on the same key)."""
        await self._tables.get(TABLE)  # created once per instance
        table = self._tables.name(TABLE)
        properties = _properties(decision, self._retention)
        rows = [{"PartitionKey": pk, "RowKey": rk, **properties} for pk, rk in _keys(decision)]
        await asyncio.gather(*(self._writer.upsert(table, row, operation="record decision") for row in rows))

    async def close(self) -> None:
        await self._writer.close()

    async def for_event(self, event_id: str, *, limit: int, cursor: str | None = None) -> DecisionPage:
        """The event's rows in its bucket; for an event recorded before the buckets, its own partition."""
        if cursor is None or _BUCKETED_CURSOR.fullmatch(cursor):
            event_hash = _event_hash(event_id)
            parameters = {
                "pk": _event_partition(event_hash),
                "from": f"{event_hash}:",
                "to": f"{event_hash};",  # ";" follows ":"
                "event": event_id,
            }
            page = await self._page(
                "PartitionKey eq @pk and RowKey ge @from and RowKey lt @to and EventId eq @event",
                parameters,
                limit=limit,
                cursor=cursor,
                newest_first=True,
            )
            if page.items or cursor is not None:
                return page
        return await self._page(
            "PartitionKey eq @pk", {"pk": encode_key(f"e:{event_id}")}, limit=limit, cursor=cursor, newest_first=True
        )

    async def for_user(self, user_id: str, *, since: datetime, limit: int, cursor: str | None = None) -> DecisionPage:
        parameters = {"pk": encode_key(f"u:{user_id}"), "rk": _since_bound(since)}
        return await self._page("PartitionKey eq @pk and RowKey lt @rk", parameters, limit=limit, cursor=cursor)

    async def broadcasts(self, *, since: datetime, limit: int, cursor: str | None = None) -> DecisionPage:
        parameters = {"pk": _BROADCASTS, "rk": _since_bound(since)}
        return await self._page("PartitionKey eq @pk and RowKey lt @rk", parameters, limit=limit, cursor=cursor)

    async def recent(self, *, since: datetime, until: datetime, limit: int) -> list[Decision]:
        """The newest ``limit`` decisions from the hourly feed partitions between ``since`` and ``until`` (at most
        48 hours before ``until``)."""
        start = max(utc(since), utc(until) - timedelta(hours=_MAX_FEED_HOURS))
        hours: list[str] = []
        hour = utc(until).replace(minute=0, second=0, microsecond=0)
        while hour >= start.replace(minute=0, second=0, microsecond=0):
            hours.append(_hour(hour))
            hour -= timedelta(hours=1)
        partitions = [f"t:{h}:{b}" for h in hours for b in range(_BUCKETS)]
        bound = _since_bound(start)
        broadcasts = {"pk": _BROADCASTS, "rk": bound, "until": _ticks(until)}
        pages = await asyncio.gather(
            *(self._page("PartitionKey eq @pk and RowKey lt @rk", {"pk": pk, "rk": bound}, limit=limit, cursor=None)
              for pk in partitions),
            self._page("PartitionKey eq @pk and RowKey lt @rk and RowKey ge @until", broadcasts, limit=limit,
                       cursor=None),
        )  # fmt: skip
        # Broadcasts recorded before they lost their feed row are found twice: once is enough.
        found = {(d.event_id, d.channel, d.user_id): d for page in pages for d in page.items}
        return sorted(found.values(), key=lambda d: (d.occurred_at, d.decided_at), reverse=True)[:limit]

    async def sweep(self, *, expired_before: datetime) -> int:
        """Delete every row whose ExpiresAt is before ``expired_before``; returns the number of rows deleted."""
        table = await self._tables.get(TABLE)
        with mapped_errors("list expired decisions"):
            expired = [
                (entity["PartitionKey"], entity["RowKey"])
                async for entity in table.query_entities(
                    "ExpiresAt lt @before",
                    parameters={"before": utc(expired_before)},
                    select=["PartitionKey", "RowKey"],
                )
            ]
        limit = asyncio.Semaphore(_SWEEP_CONCURRENCY)

        async def delete(pk: str, rk: str) -> None:
            async with limit:
                with mapped_errors("delete expired decision"):
                    await table.delete_entity(pk, rk)

        await asyncio.gather(*(delete(pk, rk) for pk, rk in expired))
        return len(expired)

    async def _page(
        self, query: str, parameters: dict[str, Any], *, limit: int, cursor: str | None, newest_first: bool = False
    ) -> DecisionPage:
        table: TableClient = await self._tables.get(TABLE)
        # Every query reads one partition: the page starts after the cursor's RowKey, one more row tells whether
        # another page follows (a Tables continuation token would be a cursor no schema can describe).
        if cursor is not None:
            query, parameters = f"{query} and RowKey gt @after", {**parameters, "after": _checked_cursor(cursor)}
        entities: list[TableEntity] = []
        with mapped_errors("query decisions"):
            async for entity in table.query_entities(query, parameters=parameters, results_per_page=limit + 1):
                entities.append(entity)
                if len(entities) > limit:
                    break
        shown = entities[:limit]
        items = [_decision(entity) for entity in shown]
        if newest_first:
            items.sort(key=lambda d: (d.occurred_at, d.decided_at), reverse=True)
        return DecisionPage(items, str(shown[-1]["RowKey"]) if len(entities) > limit else None)
