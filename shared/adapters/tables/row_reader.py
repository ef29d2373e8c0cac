"""TableRowReader: the push path's reads through the Tables REST API directly: one row by its keys, and every row
of one partition.

An event addressed to one user reads the user's preferences and, when they name no language, the user's devices
(the language of the in-app entry). Through azure-data-tables a point read cost the function about 0.5 ms of CPU and
a one-page partition query 0.6 ms; these signed requests (``row_requests``) cost about 0.2 ms each
(docs/architecture.md has the runs).

The requests are the ones the service documents: Query Entity (``GET {account}/{table}(PartitionKey='..',
RowKey='..')``) and Query Entities with a ``$filter`` on the partition key, following the continuation headers
(``x-ms-continuation-NextPartitionKey``/``NextRowKey``), with ``Accept: application/json;odata=minimalmetadata``:
the service annotates the property types JSON cannot tell, and ``entity_from_json`` turns them into what the SDK
returns (DateTime an aware UTC datetime, Int64 an int, Guid a UUID, Binary bytes, Double a float). The entity holds
its PartitionKey, RowKey and properties, without the service's metadata (etag, Timestamp), as the SDK's dict does.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from shared.adapters.tables.row_requests import SignedTableRequests, quoted_key, refused, seconds
from shared.domain.errors import UpstreamError

__all__ = ["TableRowReader", "entity_from_json"]

_READ_HEADERS = {"Accept": "application/json;odata=minimalmetadata"}
_NEXT_PARTITION = "x-ms-continuation-NextPartitionKey"
_NEXT_ROW = "x-ms-continuation-NextRowKey"
_MAX_PAGES = 1_000  # a partition read that keeps continuing past this is refused, not followed forever


def _datetime(text: str) -> datetime:
    # The service writes seven fractional digits; Python takes six.
    head, dot, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{fraction[:6]}" if dot else head).replace(tzinfo=UTC)


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "Edm.DateTime": _datetime,
    "Edm.Int64": int,
    "Edm.Guid": uuid.UUID,
    "Edm.Binary": base64.b64decode,
    "Edm.Double": float,  # "NaN", "Infinity" and "-Infinity" come as strings
}


def entity_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """One entity of a minimal-metadata answer as the SDK returns it. Raises ValueError for a type annotation this
    reader does not know or a value that does not fit its type."""
    entity: dict[str, Any] = {}
    for name, value in data.items():
        if name.startswith("odata.") or "@odata." in name or name == "Timestamp":
            continue
        kind = data.get(f"{name}@odata.type")
        if kind is None:
            entity[name] = value
            continue
        decode = _DECODERS.get(kind)
        if decode is None:
            raise ValueError(f"{name}: the type {kind} is not one this reader knows")
        entity[name] = decode(value)
    return entity


@dataclass(frozen=True, slots=True)
class _Read:
    status: int
    retry_after: float | None
    error_code: str | None
    payload: bytes
    next_keys: tuple[str, str | None] | None


def _read(status: int, headers: Mapping[str, str], payload: bytes) -> _Read:
    next_partition = headers.get(_NEXT_PARTITION)
    next_keys = (next_partition, headers.get(_NEXT_ROW)) if next_partition else None
    error_code = headers.get("x-ms-error-code")
    return _Read(status, seconds(headers.get("Retry-After")), error_code, payload, next_keys)


def _json(read: _Read, operation: str) -> Any:
    try:
        return json.loads(read.payload)
    except ValueError as exc:
        raise UpstreamError(f"Tables answered {operation} unreadably: {exc}") from exc


def _entity(data: Any, operation: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise UpstreamError(f"Tables answered {operation} with something other than an entity")
    try:
        return entity_from_json(data)
    except (ValueError, TypeError) as exc:
        raise UpstreamError(f"Tables answered {operation} with an entity this reader cannot read: {exc}") from exc


class TableRowReader(SignedTableRequests):
    """Reads rows of tables of one storage account. Raises UpstreamUnavailableError when Tables is unreachable,
    times out or answers 408/429/5xx (after up to three attempts), UpstreamError when it refuses a read.

    Opens its HTTP session on first use; ``close`` ends it.
    """

    async def get(self, table: str, partition_key: str, row_key: str, *, operation: str) -> dict[str, Any] | None:
        """The row with these keys, or None when there is none."""
        path = self._row_path_of(table, partition_key, row_key)
        read = await self._send("GET", table, path, b"", _READ_HEADERS, operation, _read)
        if read.status == 404 and read.error_code in (None, "ResourceNotFound"):
            return None
        if read.status != 200:
            raise refused(operation, read)
        return _entity(_json(read, operation), operation)

    async def partition(self, table: str, partition_key: str, *, operation: str) -> list[dict[str, Any]]:
        """Every row of the partition, in row key order, page after page."""
        path = f"{self._table_path(table)}()"
        condition = f"PartitionKey%20eq%20%27{quoted_key(partition_key)}%27"  # PartitionKey eq '<key>'
        rows: list[dict[str, Any]] = []
        query = f"$filter={condition}"
        for _ in range(_MAX_PAGES):
            read = await self._send("GET", table, path, b"", _READ_HEADERS, operation, _read, query)
            if read.status != 200:
                raise refused(operation, read)
            page = _json(read, operation)
            values = page.get("value") if isinstance(page, dict) else None
            if not isinstance(values, list):
                raise UpstreamError(f"Tables answered {operation} without a list of entities")
            rows.extend(_entity(value, operation) for value in values)
            if read.next_keys is None:
                return rows
            next_partition, next_row = read.next_keys
            query = f"$filter={condition}&NextPartitionKey={quote(next_partition, safe='')}"
            if next_row is not None:
                query += f"&NextRowKey={quote(next_row, safe='')}"
        raise UpstreamError(f"Tables kept continuing {operation} past {_MAX_PAGES} pages")
