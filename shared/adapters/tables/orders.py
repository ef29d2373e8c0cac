"""TableOrderStore: orders, their outbox and their idempotency keys in the ``orders`` table, partitioned by customer.

One partition per customer holds three kinds of rows, told apart by their RowKey prefix:

| RowKey                 | row                                                                          |
|------------------------|------------------------------------------------------------------------------|
| ``order|{orderId}``    | the order: lines, currency, status and history (JSON); ids sort newest first |
| ``outbox|{messageId}`` | a message written with a change of the order, not relayed yet                |
| ``idem|{sha256(key)}`` | an Idempotency-Key the customer used, the order it made, the request's hash  |

Because they share the partition, an order, its outbox rows and its idempotency row are written in one entity-group
transaction: all of them or none. A move of the order is a transaction too: the order row replaced on its etag
(If-Match) plus the new outbox rows.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableEntity, TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.adapters.tables.common import TableSet, as_datetime, decode_key, encode_key, mapped_errors, utc
from shared.domain.errors import ConflictError, UpstreamError
from shared.domain.orders.model import Order, OrderLine, OrderStatus, StatusChange
from shared.domain.records import OutgoingMessage
from shared.ports.orders import IdempotencyClaim, OrderPage, OutboxEntry, StoredOrder

__all__ = ["TableOrderStore"]

TABLE = "orders"
_ORDER = "order|"
_OUTBOX = "outbox|"
_IDEMPOTENCY = "idem|"
_AFTER_LAST = "}"  # sorts after "|": the end of a RowKey prefix range
_CONFLICT_STATUSES = frozenset({409, 412})


def _range(prefix: str) -> tuple[str, str]:
    return prefix, prefix[:-1] + _AFTER_LAST


def _order_entity(order: Order) -> dict[str, Any]:
    return {
        "PartitionKey": encode_key(order.customer_id),
        "RowKey": _ORDER + encode_key(order.order_id),
        "OrderId": order.order_id,
        "CustomerId": order.customer_id,
        "Currency": order.currency,
        "Status": order.status.value,
        "Total": str(order.total),
        "Lines": json.dumps([[line.sku, line.quantity, str(line.unit_price)] for line in order.lines]),
        "History": json.dumps(
            [
                {"status": c.status.value, "at": utc(c.at).isoformat(), "eventId": c.event_id, "reason": c.reason}
                for c in order.history
            ]
        ),
        "CreatedAt": utc(order.created_at),
    }


def _from_order_entity(entity: TableEntity) -> Order:
    try:
        lines = tuple(
            OrderLine(sku, int(quantity), Decimal(price)) for sku, quantity, price in json.loads(entity["Lines"])
        )
        history = tuple(
            StatusChange(OrderStatus(c["status"]), datetime.fromisoformat(c["at"]), c["eventId"], c.get("reason"))
            for c in json.loads(entity["History"])
        )
        return Order(
            order_id=entity["OrderId"],
            customer_id=entity["CustomerId"],
            currency=entity["Currency"],
            lines=lines,
            status=OrderStatus(entity["Status"]),
            history=history,
            created_at=as_datetime(entity["CreatedAt"]),
        )
    except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
        raise UpstreamError(f"stored order row {entity.get('RowKey')!r} is not readable: {exc}") from exc


def _outbox_entity(entry: OutboxEntry) -> dict[str, Any]:
    message = entry.message
    entity: dict[str, Any] = {
        "PartitionKey": encode_key(entry.partition),
        "RowKey": _OUTBOX + encode_key(message.message_id),
        "Topic": entry.topic,
        "MessageId": message.message_id,
        "Subject": message.subject,
        "ContentType": message.content_type,
        "Body": base64.b64encode(message.body).decode("ascii"),
        "Properties": json.dumps(message.application_properties),
        "WrittenAt": utc(entry.written_at),
    }
    if message.scheduled_enqueue_time is not None:
        entity["ScheduledFor"] = utc(message.scheduled_enqueue_time)
    return entity


def _from_outbox_entity(entity: TableEntity) -> OutboxEntry:
    scheduled = entity.get("ScheduledFor")
    message = OutgoingMessage(
        message_id=entity["MessageId"],
        subject=entity["Subject"],
        content_type=entity["ContentType"],
        body=base64.b64decode(entity["Body"]),
        application_properties=dict(json.loads(entity["Properties"])),
        scheduled_enqueue_time=None if scheduled is None else as_datetime(scheduled),
    )
    return OutboxEntry(decode_key(entity["PartitionKey"]), entity["Topic"], message, as_datetime(entity["WrittenAt"]))


def _idempotency_row(claim: IdempotencyClaim) -> str:
    return _IDEMPOTENCY + hashlib.sha256(claim.key.encode("utf-8")).hexdigest()


def _status(exc: TableTransactionError) -> int | None:
    return exc.status_code


class TableOrderStore:
    """OrderStore and Outbox on azure.data.tables.aio. Raises UpstreamError (UpstreamUnavailableError when it may
    pass); ConflictError where the ports say so."""

    def __init__(self, service: TableServiceClient, table_prefix: str = "") -> None:
        self._tables = TableSet(service, table_prefix)

    async def create(
        self, order: Order, outbox: Sequence[OutboxEntry], idempotency: IdempotencyClaim | None
    ) -> tuple[Order, bool]:
        """One transaction: order row, outbox rows, idempotency row. See OrderStore.create."""
        table = await self._tables.get(TABLE)
        operations: list[Any] = [("create", _order_entity(order))]
        operations += [("create", _outbox_entity(entry)) for entry in outbox]
        if idempotency is not None:
            row = {
                "PartitionKey": encode_key(order.customer_id),
                "RowKey": _idempotency_row(idempotency),
                "OrderId": order.order_id,
                "Fingerprint": idempotency.fingerprint,
            }
            operations.append(("create", row))
        with mapped_errors("store an order"):
            try:
                await table.submit_transaction(operations)
                return order, True
            except TableTransactionError as exc:
                if _status(exc) != 409:
                    raise
        return await self._earlier(table, order, idempotency)

    async def _earlier(self, table: TableClient, order: Order, claim: IdempotencyClaim | None) -> tuple[Order, bool]:
        if claim is None:
            raise ConflictError(f"order {order.order_id} exists already")
        with mapped_errors("read an idempotency key"):
            try:
                row = await table.get_entity(encode_key(order.customer_id), _idempotency_row(claim))
            except ResourceNotFoundError:
                raise ConflictError(f"order {order.order_id} exists already") from None
        if row["Fingerprint"] != claim.fingerprint:
            raise ConflictError("this Idempotency-Key was used for a different order; use a new key for a new order")
        earlier = await self.get(order.customer_id, row["OrderId"])
        if earlier is None:
            raise UpstreamError(f"idempotency key points at order {row['OrderId']!r}, which is missing")
        return earlier.order, False

    async def get(self, customer_id: str, order_id: str) -> StoredOrder | None:
        table = await self._tables.get(TABLE)
        with mapped_errors("read an order"):
            try:
                entity = await table.get_entity(encode_key(customer_id), _ORDER + encode_key(order_id))
            except ResourceNotFoundError:
                return None
        return StoredOrder(_from_order_entity(entity), str(entity.metadata["etag"]))

    async def page(self, customer_id: str, *, limit: int, after: str | None) -> OrderPage:
        """Newest first: order ids count time down, so key order is newest first."""
        table = await self._tables.get(TABLE)
        low, high = _range(_ORDER)
        parameters = {
            "pk": encode_key(customer_id),
            "low": _ORDER + encode_key(after) if after else low,
            "high": high,
        }
        query = "PartitionKey eq @pk and RowKey gt @low and RowKey lt @high"
        orders: list[Order] = []
        with mapped_errors("list orders"):
            async for entity in table.query_entities(query, parameters=parameters, results_per_page=limit + 1):
                orders.append(_from_order_entity(entity))
                if len(orders) > limit:
                    break
        more = len(orders) > limit
        shown = orders[:limit]
        return OrderPage(shown, shown[-1].order_id if more and shown else None)

    async def transition(self, stored: StoredOrder, moved: Order, outbox: Sequence[OutboxEntry]) -> None:
        """One transaction: the order replaced If-Match its etag, plus the new outbox rows. See OrderStore."""
        table = await self._tables.get(TABLE)
        options = {"mode": UpdateMode.REPLACE, "etag": stored.etag, "match_condition": MatchConditions.IfNotModified}
        operations: list[Any] = [("update", _order_entity(moved), options)]
        operations += [("create", _outbox_entity(entry)) for entry in outbox]
        with mapped_errors("move an order"):
            try:
                await table.submit_transaction(operations)
            except TableTransactionError as exc:
                if _status(exc) in _CONFLICT_STATUSES:
                    raise ConflictError(f"order {moved.order_id} changed since it was read") from exc
                raise

    async def pending(self, *, written_before: datetime, limit: int) -> list[OutboxEntry]:
        """Every partition's outbox rows older than ``written_before``, oldest first (a filtered table scan)."""
        table = await self._tables.get(TABLE)
        low, high = _range(_OUTBOX)
        query = "RowKey ge @low and RowKey lt @high and WrittenAt lt @before"
        parameters = {"low": low, "high": high, "before": utc(written_before)}
        entries: list[OutboxEntry] = []
        with mapped_errors("list the outbox"):
            async for entity in table.query_entities(query, parameters=parameters):
                entries.append(_from_outbox_entity(entity))
        return sorted(entries, key=lambda entry: entry.written_at)[:limit]

    async def remove(self, entries: Sequence[OutboxEntry]) -> None:
        table = await self._tables.get(TABLE)
        with mapped_errors("remove relayed outbox rows"):
            for entry in entries:
                # delete_entity succeeds when the row is already gone (relayed twice).
                await table.delete_entity(encode_key(entry.partition), _OUTBOX + encode_key(entry.message.message_id))
