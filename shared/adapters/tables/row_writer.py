"""TableRowWriter: row writes through the Tables REST API directly, for the push functions' tables: the decision
ledger, the delivery log, the inbox and secure content.

Why not the SDK here: these are the push functions' most frequent requests. Every event makes a delivery-log claim
and finish, the ledger writes two rows for every broadcast and three for every event addressed to a user, and an
event addressed to a user writes its inbox entry twice (two rows in one transaction each time). Through
azure-data-tables a single write costs the function about 0.7 ms of CPU (request building, the azure-core pipeline,
header parsing) and a transaction several times that (its multipart body built and parsed with the ``email``
package); these signed requests (``row_requests``: signing, retries, one client span each) cost under half and a
seventh (docs/architecture.md has the runs). The push path's two reads go through ``TableRowReader``; other reads,
queries, deletes and every other table keep the SDK. A failed write reaches the caller as an UpstreamError.

The requests are the ones the service documents: Insert Entity (``POST {account}/{table}``, ``Prefer:
return-no-content``), Update Entity with ``If-Match`` and Insert Or Replace Entity (both ``PUT {account}/{table}
(PartitionKey='..',RowKey='..')``), each with a JSON body whose property types are annotated as the SDK annotates
them (so rows read back through the SDK as if it had written them), and the same operations as one entity-group
transaction (``POST {account}/$batch``, framed in ``row_batch``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from shared.adapters.tables.row_batch import BatchPart, PartAnswer, decode_changeset, encode_changeset
from shared.adapters.tables.row_requests import SignedTableRequests, refused, seconds
from shared.domain.errors import ConflictError, UpstreamError

__all__ = ["RowChange", "RowConflict", "TableRowWriter", "entity_json"]

_INT32 = range(-(2**31), 2**31)
_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json;odata=nometadata"}
_INSERTING = {"Prefer": "return-no-content"}
_MAX_CHANGES = 100  # the service's limit for one transaction


def entity_json(entity: Mapping[str, Any]) -> bytes:
    """The entity as the JSON body the service takes: Double and DateTime values annotated with their EDM type as
    the SDK does; None values left out. Raises TypeError for a value of another type, ValueError for a non-finite
    float or an integer beyond Int32."""
    body: dict[str, Any] = {}
    for name, value in entity.items():
        if value is None:
            continue
        if isinstance(value, str | bool):
            body[name] = value
        elif isinstance(value, int):
            if value not in _INT32:  # as the SDK, which takes a larger one only with an explicit EDM type
                raise ValueError(f"{name}: {value} is beyond Int32")
            body[name] = value
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"{name}: {value} is not a finite number")
            body[name], body[f"{name}@odata.type"] = value, "Edm.Double"
        elif isinstance(value, datetime):
            moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
            body[name], body[f"{name}@odata.type"] = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "Edm.DateTime"
        else:
            raise TypeError(f"{name}: {type(value).__name__} is not a property type this writer stores")
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class RowChange:
    """One write of a transaction: ``insert`` (Insert Entity: only if absent), ``replace`` (Update Entity: only while
    the row carries ``etag``) or ``upsert`` (Insert Or Replace Entity: unconditional)."""

    kind: Literal["insert", "replace", "upsert"]
    entity: Mapping[str, Any]
    etag: str | None = None

    @classmethod
    def insert(cls, entity: Mapping[str, Any]) -> RowChange:
        return cls("insert", entity)

    @classmethod
    def replace(cls, entity: Mapping[str, Any], etag: str) -> RowChange:
        return cls("replace", entity, etag)

    @classmethod
    def upsert(cls, entity: Mapping[str, Any]) -> RowChange:
        return cls("upsert", entity)


class RowConflict(ConflictError):
    """A write met a row other than the one it expected: the row exists (an insert, 409), or it changed (a replace,
    412) or is gone (a replace, 404). ``index``: the failed change of a transaction, when the service names it."""

    def __init__(self, message: str, *, status: int, index: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.index = index

    @property
    def gone(self) -> bool:
        return self.status == 404


@dataclass(frozen=True, slots=True)
class _Answer:
    """A write's answer; for a transaction, the failed change's status and code (202 when every change succeeded)."""

    status: int
    etag: str | None
    error_code: str | None
    retry_after: float | None
    etags: tuple[str | None, ...] = ()
    index: int | None = None


def _single_answer(status: int, headers: Mapping[str, str], _payload: bytes) -> _Answer:
    return _Answer(status, headers.get("ETag"), headers.get("x-ms-error-code"), seconds(headers.get("Retry-After")))


def _batch_answer(status: int, headers: Mapping[str, str], payload: bytes) -> _Answer:
    """The change set's outcome: 202 with every change's etag, or the failed change's status, code and index."""
    retry_after = seconds(headers.get("Retry-After"))
    if status != 202:
        return _Answer(status, None, headers.get("x-ms-error-code"), retry_after)
    try:
        answers = decode_changeset(headers.get("Content-Type", ""), payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UpstreamError(f"Tables answered a transaction unreadably: {exc}") from exc
    failed: PartAnswer | None = next((answer for answer in answers if answer.status >= 300), None)
    if failed is not None:
        return _Answer(failed.status, None, failed.error_code, retry_after, index=failed.index)
    return _Answer(202, None, None, retry_after, etags=tuple(answer.etag for answer in answers))


def _conflict(operation: str, answer: _Answer, what: str) -> RowConflict:
    return RowConflict(
        f"{operation}: {what} ({answer.error_code or answer.status})", status=answer.status, index=answer.index
    )


def _row_exists(answer: _Answer) -> bool:
    return answer.status == 409 and answer.error_code in (None, "EntityAlreadyExists")


def _row_changed(answer: _Answer) -> bool:
    return answer.status in (404, 412) and answer.error_code != "TableNotFound"


class TableRowWriter(SignedTableRequests):
    """Writes rows into tables of one storage account: one at a time, or several of one partition in a transaction.
    Raises UpstreamUnavailableError when Tables is unreachable, times out or answers 408/429/5xx (after up to three
    attempts), UpstreamError when it refuses a write.

    Opens its HTTP session on first use; ``close`` ends it.
    """

    async def upsert(self, table: str, entity: Mapping[str, Any], *, operation: str) -> None:
        """Insert the row, or replace the one with its PartitionKey and RowKey (no etag condition)."""
        answer = await self._send_entity("PUT", table, self._row_path(table, entity), entity, operation)
        if answer.status != 204:
            raise refused(operation, answer)

    async def insert(self, table: str, entity: Mapping[str, Any], *, operation: str) -> str:
        """Insert the row if it is absent and return its etag. Raises ConflictError when the row exists."""
        answer = await self._send_entity("POST", table, self._table_path(table), entity, operation, _INSERTING)
        if answer.status == 204 and answer.etag:
            return answer.etag
        if _row_exists(answer):
            raise _conflict(operation, answer, "the row exists")
        raise refused(operation, answer)

    async def replace(self, table: str, entity: Mapping[str, Any], *, etag: str, operation: str) -> str:
        """Replace the row if it still carries ``etag`` and return its new etag. Raises ConflictError when the row
        changed since or is gone."""
        path = self._row_path(table, entity)
        answer = await self._send_entity("PUT", table, path, entity, operation, {"If-Match": etag})
        if answer.status == 204 and answer.etag:
            return answer.etag
        if _row_changed(answer):
            raise _conflict(operation, answer, "the row changed or is gone")
        raise refused(operation, answer)

    async def transact(self, table: str, changes: Sequence[RowChange], *, operation: str) -> list[str]:
        """Apply ``changes`` (rows of one partition, each row once, at most 100) all or none, in one entity-group
        transaction, and return the rows' new etags in order.

        Raises RowConflict, with nothing written, when an insert met an existing row or a replace a changed or
        absent one; ValueError for an empty or oversized transaction.
        """
        if not 0 < len(changes) <= _MAX_CHANGES:
            raise ValueError(f"a transaction holds 1 to {_MAX_CHANGES} changes, not {len(changes)}")
        content_type, body = encode_changeset([self._batch_part(table, change) for change in changes])
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        path = f"{self._account_path}/$batch"
        answer = await self._send("POST", table, path, body, headers, operation, _batch_answer)
        if answer.status == 202:
            if len(answer.etags) != len(changes) or not all(answer.etags):
                raise UpstreamError(f"Tables answered {operation} without an etag for each of its changes")
            return [etag for etag in answer.etags if etag]
        if _row_exists(answer) or _row_changed(answer):
            raise _conflict(operation, answer, "a row exists, changed or is gone")
        raise refused(operation, answer)

    def _batch_part(self, table: str, change: RowChange) -> BatchPart:
        body = entity_json(change.entity)
        if change.kind == "insert":
            return BatchPart("POST", self._origin + self._table_path(table), _JSON_HEADERS | _INSERTING, body)
        conditions: dict[str, str] = {}
        if change.kind == "replace":
            if not change.etag:
                raise ValueError("a replace in a transaction needs the etag the row must carry")
            conditions["If-Match"] = change.etag
        url = self._origin + self._row_path(table, change.entity)
        return BatchPart("PUT", url, _JSON_HEADERS | conditions, body)

    def _row_path(self, table: str, entity: Mapping[str, Any]) -> str:
        return self._row_path_of(table, entity["PartitionKey"], entity["RowKey"])

    async def _send_entity(
        self,
        method: str,
        table: str,
        path: str,
        entity: Mapping[str, Any],
        operation: str,
        conditions: Mapping[str, str] | None = None,
    ) -> _Answer:
        headers = _JSON_HEADERS | dict(conditions or {})
        return await self._send(method, table, path, entity_json(entity), headers, operation, _single_answer)
