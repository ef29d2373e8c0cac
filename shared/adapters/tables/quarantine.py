"""TableQuarantineStore: messages that can never be processed, in the ``quarantine`` table, one row per message.

A string property holds at most 64 KiB (32 Ki UTF-16 characters) and an entity at most 1 MiB, so the base64 body and
the JSON of the application properties are split over numbered properties (``Body0``, ``Body1``, ...). Bodies over
:data:`MAX_STORED_BODY_BYTES` (the largest Service Bus Standard message) are truncated; the row then says so in
``BodyTruncated``/``BodyLength`` and its description ends with a note an operator can read.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableServiceClient

from shared.adapters.tables.common import TableSet, as_datetime, encode_key, mapped_errors, optional_datetime, utc
from shared.domain.errors import NotFoundError
from shared.domain.records import QuarantinedMessage

__all__ = ["MAX_STORED_BODY_BYTES", "TableQuarantineStore"]

log = logging.getLogger(__name__)

TABLE = "quarantine"
_ROW = "message"
MAX_STORED_BODY_BYTES = 256 * 1024
_CHUNK_CHARS = 32_000
_MAX_TEXT_CHARS = 8_000


def _split(name: str, text: str) -> dict[str, Any]:
    chunks = [text[i : i + _CHUNK_CHARS] for i in range(0, len(text), _CHUNK_CHARS)] or [""]
    props: dict[str, Any] = {f"{name}Parts": len(chunks)}
    props.update({f"{name}{index}": chunk for index, chunk in enumerate(chunks)})
    return props


def _join(name: str, entity: TableEntity) -> str:
    return "".join(entity[f"{name}{index}"] for index in range(int(entity[f"{name}Parts"])))


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT_CHARS else text[: _MAX_TEXT_CHARS - 1] + "…"


def _to_entity(message: QuarantinedMessage) -> dict[str, Any]:
    body = message.body
    description = message.description
    truncated = len(body) > MAX_STORED_BODY_BYTES
    if truncated:
        note = f" [body truncated: {len(body)} bytes, first {MAX_STORED_BODY_BYTES} kept]"
        description = description[: _MAX_TEXT_CHARS - len(note)] + note
        body = body[:MAX_STORED_BODY_BYTES]
    entity: dict[str, Any] = {
        "PartitionKey": encode_key(message.id),
        "RowKey": _ROW,
        "QuarantineId": message.id,
        "Topic": message.topic,
        "Subscription": message.subscription,
        "Reason": _clip(message.reason),
        "Description": _clip(description),
        "BodyLength": len(message.body),
        "BodyTruncated": truncated,
        "QuarantinedAt": utc(message.quarantined_at),
        **_split("Body", base64.b64encode(body).decode("ascii")),
        **_split("Properties", json.dumps(message.application_properties)),
    }
    optional = {"MessageId": message.message_id, "ContentType": message.content_type, "Subject": message.subject}
    entity.update({key: value for key, value in optional.items() if value is not None})
    if message.replayed_at is not None:
        entity["ReplayedAt"] = utc(message.replayed_at)
    return entity


def _from_entity(entity: TableEntity) -> QuarantinedMessage:
    return QuarantinedMessage(
        id=entity["QuarantineId"],
        topic=entity["Topic"],
        subscription=entity["Subscription"],
        message_id=entity.get("MessageId"),
        reason=entity["Reason"],
        description=entity["Description"],
        body=base64.b64decode(_join("Body", entity)),
        content_type=entity.get("ContentType"),
        subject=entity.get("Subject"),
        application_properties=dict(json.loads(_join("Properties", entity))),
        quarantined_at=as_datetime(entity["QuarantinedAt"]),
        replayed_at=optional_datetime(entity.get("ReplayedAt")),
    )


class TableQuarantineStore:
    """QuarantineStore on azure.data.tables.aio. Raises UpstreamError (UpstreamUnavailableError when transient)."""

    def __init__(self, service: TableServiceClient, table_prefix: str = "") -> None:
        self._tables = TableSet(service, table_prefix)

    async def add(self, message: QuarantinedMessage) -> None:
        """Store the message under its id (adding the same id again replaces it)."""
        if len(message.body) > MAX_STORED_BODY_BYTES:
            log.warning(
                "quarantined body truncated quarantine_id=%s message_id=%s bytes=%s",
                message.id,
                message.message_id,
                len(message.body),
            )
        table = await self._tables.get(TABLE)
        with mapped_errors("add quarantined message"):
            await table.upsert_entity(_to_entity(message), mode=UpdateMode.REPLACE)

    async def list(self) -> list[QuarantinedMessage]:
        """Every quarantined message, oldest first."""
        table = await self._tables.get(TABLE)
        with mapped_errors("list quarantined messages"):
            messages = [_from_entity(entity) async for entity in table.list_entities()]
        return sorted(messages, key=lambda message: message.quarantined_at)

    async def get(self, quarantine_id: str) -> QuarantinedMessage | None:
        """Return the message, or None when no message has this id."""
        table = await self._tables.get(TABLE)
        with mapped_errors("get quarantined message"):
            try:
                entity = await table.get_entity(encode_key(quarantine_id), _ROW)
            except ResourceNotFoundError:
                return None
        return _from_entity(entity)

    async def mark_replayed(self, quarantine_id: str, at: datetime) -> None:
        """Record when the message was replayed. Raises NotFoundError when no message has this id."""
        table = await self._tables.get(TABLE)
        with mapped_errors("mark quarantined message replayed"):
            try:
                await table.update_entity(
                    {"PartitionKey": encode_key(quarantine_id), "RowKey": _ROW, "ReplayedAt": utc(at)},
                    mode=UpdateMode.MERGE,
                )
            except ResourceNotFoundError as exc:
                raise NotFoundError(f"no quarantined message {quarantine_id}") from exc
