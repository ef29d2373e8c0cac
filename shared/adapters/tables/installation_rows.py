"""Rows of the installations mirror: the main row as an entity and back, the channel index key, concurrent calls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from shared.adapters.tables.common import as_datetime, encode_key, utc
from shared.domain.records import InstallationRecord, Platform

__all__ = ["channel_row", "from_entity", "to_entity", "together"]

T = TypeVar("T")


def channel_row(user_id: str, installation_id: str) -> str:
    # "|" is in neither the plain key alphabet nor base64url, so the two halves cannot run into each other.
    return f"{encode_key(installation_id)}|{encode_key(user_id)}"


def to_entity(record: InstallationRecord) -> dict[str, Any]:
    return {
        "PartitionKey": encode_key(record.user_id),
        "RowKey": encode_key(record.installation_id),
        "UserId": record.user_id,
        "InstallationId": record.installation_id,
        "Platform": record.platform.value,
        "PushChannelHash": record.push_channel_hash,
        "PushChannelHint": record.push_channel_hint,
        "Language": record.language,
        "Interests": json.dumps(list(record.interests)),
        "Tags": json.dumps(list(record.tags)),
        "State": record.state,
        "CreatedAt": utc(record.created_at),
        "UpdatedAt": utc(record.updated_at),
        "Fingerprint": record.fingerprint,
    }


def from_entity(entity: Mapping[str, Any]) -> InstallationRecord:
    return InstallationRecord(
        user_id=entity["UserId"],
        installation_id=entity["InstallationId"],
        platform=Platform(entity["Platform"]),
        push_channel_hash=entity["PushChannelHash"],
        push_channel_hint=entity["PushChannelHint"],
        language=entity["Language"],
        interests=tuple(json.loads(entity["Interests"])),
        tags=tuple(json.loads(entity["Tags"])),
        state=entity["State"],
        created_at=as_datetime(entity["CreatedAt"]),
        updated_at=as_datetime(entity["UpdatedAt"]),
        fingerprint=entity.get("Fingerprint") or "",
    )


async def together(*calls: Awaitable[T]) -> list[T]:
    """Await ``calls`` concurrently; every one runs to its end, then the first failure (in argument order) is
    raised, so no call is left running unobserved."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]  # no exception left among them
