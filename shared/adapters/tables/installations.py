"""TableInstallationMirror: the installations mirror in Azure Tables, with an ownership and a push-channel index.

Tables (under the instance's prefix):

- ``installations``: partition = user id, row = installation id. The source of truth.
- ``installationowners``: partition = installation id, row = user id. Answers :meth:`find_owner`.
- ``installationchannels``: partition = push channel hash, row = installation id + "|" + user id.

Upserts write the main row first, then the channel row, then remove channel rows the installation left, and the
owner row last (it remembers the channel, so a retried write or delete still finds old channel rows). Deletes remove
the main row first and the index rows after it. A crash between writes therefore leaves at worst a stale or missing
index row, never an installation missing from its owner's partition; readers check every index hit against the
main row.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableServiceClient

from shared.adapters.tables.common import TableSet, as_datetime, encode_key, mapped_errors, utc
from shared.domain.records import InstallationRecord, Platform

__all__ = ["TableInstallationMirror"]

log = logging.getLogger(__name__)

MAIN_TABLE = "installations"
OWNERS_TABLE = "installationowners"
CHANNELS_TABLE = "installationchannels"


def _channel_row(user_id: str, installation_id: str) -> str:
    # "|" is in neither the plain key alphabet nor base64url, so the two halves cannot run into each other.
    return f"{encode_key(installation_id)}|{encode_key(user_id)}"


def _to_entity(record: InstallationRecord) -> dict[str, Any]:
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
    }


def _from_entity(entity: TableEntity) -> InstallationRecord:
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
    )


class TableInstallationMirror:
    """InstallationMirror on azure.data.tables.aio. Every method raises UpstreamError (or its subclass
    UpstreamUnavailableError for transient failures) when Tables fails."""

    def __init__(self, service: TableServiceClient, table_prefix: str = "") -> None:
        self._tables = TableSet(service, table_prefix)

    async def upsert(self, record: InstallationRecord) -> None:
        """Write the main row, then the channel row, drop channel rows the installation left, then the owner row."""
        old_hashes = await self._channel_hashes(record.user_id, record.installation_id)
        main = await self._tables.get(MAIN_TABLE)
        with mapped_errors("upsert installation"):
            await main.upsert_entity(_to_entity(record), mode=UpdateMode.REPLACE)
        channels = await self._tables.get(CHANNELS_TABLE)
        with mapped_errors("upsert installation channel index"):
            await channels.upsert_entity(
                {
                    "PartitionKey": encode_key(record.push_channel_hash),
                    "RowKey": _channel_row(record.user_id, record.installation_id),
                    "UserId": record.user_id,
                    "InstallationId": record.installation_id,
                },
                mode=UpdateMode.REPLACE,
            )
        for old_hash in old_hashes - {record.push_channel_hash}:
            await self._delete_channel_row(old_hash, record.user_id, record.installation_id)
        # The owner row goes last and remembers the channel, so a retry after a crash still finds old channel rows.
        owners = await self._tables.get(OWNERS_TABLE)
        with mapped_errors("upsert installation owner index"):
            await owners.upsert_entity(
                {
                    "PartitionKey": encode_key(record.installation_id),
                    "RowKey": encode_key(record.user_id),
                    "UserId": record.user_id,
                    "PushChannelHash": record.push_channel_hash,
                },
                mode=UpdateMode.REPLACE,
            )

    async def _channel_hashes(self, user_id: str, installation_id: str) -> set[str]:
        """The channel hashes the main row and the owner row know for this installation (either may be stale)."""
        hashes: set[str] = set()
        previous = await self.get(user_id, installation_id)
        if previous is not None:
            hashes.add(previous.push_channel_hash)
        owners = await self._tables.get(OWNERS_TABLE)
        with mapped_errors("get installation owner index"):
            try:
                owner_row = await owners.get_entity(encode_key(installation_id), encode_key(user_id))
            except ResourceNotFoundError:
                return hashes
        if owner_row.get("PushChannelHash"):
            hashes.add(owner_row["PushChannelHash"])
        return hashes

    async def get(self, user_id: str, installation_id: str) -> InstallationRecord | None:
        """Return the installation, or None when the user has no such installation."""
        main = await self._tables.get(MAIN_TABLE)
        with mapped_errors("get installation"):
            try:
                entity = await main.get_entity(encode_key(user_id), encode_key(installation_id))
            except ResourceNotFoundError:
                return None
        return _from_entity(entity)

    async def find_owner(self, installation_id: str) -> str | None:
        """Return the user whose partition holds the installation, or None; index rows without a main row are
        ignored, and of several owners (a hand-over in progress) the most recently updated wins."""
        owners = await self._tables.get(OWNERS_TABLE)
        with mapped_errors("find installation owner"):
            candidates = [
                entity["UserId"]
                async for entity in owners.query_entities(
                    "PartitionKey eq @pk", parameters={"pk": encode_key(installation_id)}
                )
            ]
        found = [record for user_id in candidates if (record := await self.get(user_id, installation_id))]
        if not found:
            return None
        return max(found, key=lambda record: record.updated_at).user_id

    async def find_by_channel(self, push_channel_hash: str) -> list[InstallationRecord]:
        """Return the installations whose main row still carries this push channel hash."""
        channels = await self._tables.get(CHANNELS_TABLE)
        with mapped_errors("find installations by channel"):
            hits = [
                (entity["UserId"], entity["InstallationId"])
                async for entity in channels.query_entities(
                    "PartitionKey eq @pk", parameters={"pk": encode_key(push_channel_hash)}
                )
            ]
        found: list[InstallationRecord] = []
        for user_id, installation_id in hits:
            record = await self.get(user_id, installation_id)
            if record is not None and record.push_channel_hash == push_channel_hash:
                found.append(record)
            else:
                log.debug("ignoring stale channel index row installation_id=%s", installation_id)
        return found

    async def list_for_user(self, user_id: str) -> list[InstallationRecord]:
        main = await self._tables.get(MAIN_TABLE)
        with mapped_errors("list installations of a user"):
            return [
                _from_entity(entity)
                async for entity in main.query_entities("PartitionKey eq @pk", parameters={"pk": encode_key(user_id)})
            ]

    async def list_all(self) -> list[InstallationRecord]:
        """Every installation (a full table scan: for audience counts, not for request paths)."""
        main = await self._tables.get(MAIN_TABLE)
        with mapped_errors("list all installations"):
            return [_from_entity(entity) async for entity in main.list_entities()]

    async def delete(self, user_id: str, installation_id: str) -> None:
        """Delete the main row, then its channel rows, then its owner row. Idempotent: no error when already gone."""
        old_hashes = await self._channel_hashes(user_id, installation_id)
        main = await self._tables.get(MAIN_TABLE)
        with mapped_errors("delete installation"):
            await main.delete_entity(encode_key(user_id), encode_key(installation_id))
        for old_hash in old_hashes:
            await self._delete_channel_row(old_hash, user_id, installation_id)
        owners = await self._tables.get(OWNERS_TABLE)
        with mapped_errors("delete installation owner index"):
            await owners.delete_entity(encode_key(installation_id), encode_key(user_id))

    async def _delete_channel_row(self, push_channel_hash: str, user_id: str, installation_id: str) -> None:
        channels = await self._tables.get(CHANNELS_TABLE)
        with mapped_errors("delete installation channel index"):
            await channels.delete_entity(encode_key(push_channel_hash), _channel_row(user_id, installation_id))
