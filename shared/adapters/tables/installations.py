"""TableInstallationMirror: the installations mirror in Azure Tables, with an ownership claim and a channel index.

Tables (under the instance's prefix):

- ``installations``: partition = user id, row = installation id. The source of truth for a user's devices.
- ``installationclaims``: partition = installation id, row = ``owner``: who owns the id. :meth:`claim` inserts it
  if absent (Tables' insert is atomic), so of two users racing for one id exactly one gets it; nobody
  checks first and writes after.
- ``installationchannels``: partition = push channel hash, row = installation id + "|" + user id.

Upserts (and :meth:`claim_and_write`, a claim followed by an upsert that needs no reads) write the main row and
the channel row together (either failure fails the call; the registration's "pending" row is rewritten by the
next one), then remove channel rows the installation left, and update the claim last (it remembers the channel, so
a retried write or delete still finds old channel rows; a claim made with the channel costs no write here).
Deletes remove the main row first, then the channel rows, then the caller's claim. A crash between writes
therefore leaves at worst a stale or missing index row, never an installation missing from its owner's partition;
readers check every channel hit against the main row.
Independent reads and writes of one call go out together (``asyncio.gather``): each is one round trip. A user's
devices are listed through ``TableRowReader`` (the push path reads them for the language of an in-app entry); the
rest goes through the SDK.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.adapters.tables.common import TableSet, encode_key, mapped_errors, utc
from shared.adapters.tables.installation_rows import channel_row, from_entity, to_entity, together
from shared.adapters.tables.row_reader import TableRowReader
from shared.domain.errors import ConflictError
from shared.domain.records import InstallationRecord

__all__ = ["TableInstallationMirror"]

log = logging.getLogger(__name__)

MAIN_TABLE = "installations"
CLAIMS_TABLE = "installationclaims"
CHANNELS_TABLE = "installationchannels"
OWNER_ROW = "owner"
# A claim can vanish between "insert failed: exists" and the read (its owner deleted the device); insert again.
_CLAIM_ROUNDS = 3


class TableInstallationMirror:
    """InstallationMirror on azure.data.tables.aio and ``TableRowReader``. Every method raises UpstreamError (or its
    subclass UpstreamUnavailableError for transient failures) when Tables fails. ``reader``: the process's reader for
    the same account (one is made when none is given); ``close`` ends its HTTP session."""

    def __init__(
        self, service: TableServiceClient, table_prefix: str = "", reader: TableRowReader | None = None
    ) -> None:
        self._tables = TableSet(service, table_prefix)
        self._reader = reader or TableRowReader.for_service(service)

    async def close(self) -> None:
        await self._reader.close()

    async def claim(
        self, installation_id: str, user_id: str, *, now: datetime, push_channel_hash: str | None = None
    ) -> bool:
        """Make ``user_id`` the owner of ``installation_id`` unless another user is: True when the caller owns it
        (just now, or already). An insert-if-absent, so concurrent claims by two users have exactly one winner.
        A new claim remembers ``push_channel_hash``.

        Raises ConflictError when the claim keeps vanishing and reappearing under it (try again).
        """
        owned, _ = await self._take_claim(installation_id, user_id, now, push_channel_hash)
        return owned

    async def claim_and_write(self, record: InstallationRecord, previous: InstallationRecord | None) -> bool:
        """Claim the id for ``record.user_id`` (remembering its channel when new), then, if the caller owns it, write
        it as :meth:`upsert` does without reading again: ``previous`` is the caller's row as just read (None: none).
        False, with nothing written, when another user owns the id.

        Raises ConflictError as :meth:`claim` does.
        """
        owned, claim = await self._take_claim(
            record.installation_id, record.user_id, record.updated_at, record.push_channel_hash
        )
        if not owned:
            return False
        old_hashes = {previous.push_channel_hash} if previous is not None else set()
        if claim is not None and claim.get("PushChannelHash"):
            old_hashes.add(claim["PushChannelHash"])
        await self._write(record, old_hashes)
        if claim is not None:  # a claim made just now remembers this channel already
            await self._remember_channel(claim, record)
        return True

    async def _take_claim(
        self, installation_id: str, user_id: str, now: datetime, push_channel_hash: str | None
    ) -> tuple[bool, TableEntity | None]:
        """Whether the caller owns the id, and the claim as read (None: the caller's insert made it just now)."""
        claims = await self._tables.get(CLAIMS_TABLE)
        entity: dict[str, Any] = {
            "PartitionKey": encode_key(installation_id),
            "RowKey": OWNER_ROW,
            "UserId": user_id,
            "ClaimedAt": utc(now),
        }
        if push_channel_hash is not None:
            entity["PushChannelHash"] = push_channel_hash
        for _ in range(_CLAIM_ROUNDS):
            with mapped_errors("claim installation id"):
                try:
                    await claims.create_entity(entity)
                except ResourceExistsError:
                    pass
                else:
                    return True, None
                try:
                    claim = await claims.get_entity(encode_key(installation_id), OWNER_ROW)
                except ResourceNotFoundError:
                    continue
            return claim["UserId"] == user_id, claim
        raise ConflictError(f"installation id {installation_id!r} is being claimed and released concurrently")

    async def upsert(self, record: InstallationRecord) -> None:
        """Write the main row and the channel row, drop channel rows the installation left, then the claim."""
        old_hashes, claim = await self._known_channels(record.user_id, record.installation_id)
        await self._write(record, old_hashes)
        # The claim goes last and remembers the channel, so a retry after a crash still finds old channel rows.
        await self._remember_channel(claim, record)

    async def _write(self, record: InstallationRecord, old_hashes: set[str]) -> None:
        await together(self._write_main(record), self._write_channel(record))
        await together(
            *(
                self._delete_channel_row(old_hash, record.user_id, record.installation_id)
                for old_hash in old_hashes - {record.push_channel_hash}
            )
        )

    async def _write_main(self, record: InstallationRecord) -> None:
        main = await self._tables.get(MAIN_TABLE)
        with mapped_errors("upsert installation"):
            await main.upsert_entity(to_entity(record), mode=UpdateMode.REPLACE)

    async def _write_channel(self, record: InstallationRecord) -> None:
        channels = await self._tables.get(CHANNELS_TABLE)
        with mapped_errors("upsert installation channel index"):
            await channels.upsert_entity(
                {
                    "PartitionKey": encode_key(record.push_channel_hash),
                    "RowKey": channel_row(record.user_id, record.installation_id),
                    "UserId": record.user_id,
                    "InstallationId": record.installation_id,
                },
                mode=UpdateMode.REPLACE,
            )

    async def set_state(self, user_id: str, installation_id: str, state: str) -> bool:
        """Merge ``state`` into the existing row (If-Match: *, so a removed row is not recreated half-empty);
        False when there is no row."""
        main = await self._tables.get(MAIN_TABLE)
        with mapped_errors("set installation state"):
            try:
                await main.update_entity(
                    {"PartitionKey": encode_key(user_id), "RowKey": encode_key(installation_id), "State": state},
                    mode=UpdateMode.MERGE,
                )
            except ResourceNotFoundError:
                return False
        return True

    async def _remember_channel(self, claim: TableEntity | None, record: InstallationRecord) -> None:
        """Record the channel on the owner's claim, creating the claim if there is none (a row written before
        claims existed); never touches another user's claim."""
        claims = await self._tables.get(CLAIMS_TABLE)
        with mapped_errors("record installation channel on its claim"):
            if claim is None:
                try:
                    await claims.create_entity(
                        {
                            "PartitionKey": encode_key(record.installation_id),
                            "RowKey": OWNER_ROW,
                            "UserId": record.user_id,
                            "ClaimedAt": utc(record.updated_at),
                            "PushChannelHash": record.push_channel_hash,
                        }
                    )
                except ResourceExistsError:
                    log.warning("installation_id=%s was claimed by someone during an upsert", record.installation_id)
            elif claim["UserId"] != record.user_id:
                log.warning("installation_id=%s is claimed by another user; its claim is left", record.installation_id)
            elif claim.get("PushChannelHash") != record.push_channel_hash:
                try:
                    await claims.update_entity(
                        {
                            "PartitionKey": claim["PartitionKey"],
                            "RowKey": OWNER_ROW,
                            "PushChannelHash": record.push_channel_hash,
                        },
                        mode=UpdateMode.MERGE,
                        etag=claim.metadata.get("etag"),
                        match_condition=MatchConditions.IfNotModified,
                    )
                except (ResourceModifiedError, ResourceNotFoundError):
                    log.info("installation_id=%s: its claim changed meanwhile", record.installation_id)

    async def _known_channels(self, user_id: str, installation_id: str) -> tuple[set[str], TableEntity | None]:
        """The channel hashes the main row and the claim know for this installation (either may be stale), and the
        claim (any user's) as read."""
        hashes: set[str] = set()
        claims = await self._tables.get(CLAIMS_TABLE)
        previous, claim = await asyncio.gather(
            self.get(user_id, installation_id), self._claim_row(claims, installation_id)
        )
        if previous is not None:
            hashes.add(previous.push_channel_hash)
        if claim is not None and claim["UserId"] == user_id and claim.get("PushChannelHash"):
            hashes.add(claim["PushChannelHash"])
        return hashes, claim

    @staticmethod
    async def _claim_row(claims: TableClient, installation_id: str) -> TableEntity | None:
        with mapped_errors("get installation claim"):
            try:
                return await claims.get_entity(encode_key(installation_id), OWNER_ROW)
            except ResourceNotFoundError:
                return None

    async def get(self, user_id: str, installation_id: str) -> InstallationRecord | None:
        """Return the installation, or None when the user has no such installation."""
        main = await self._tables.get(MAIN_TABLE)
        with mapped_errors("get installation"):
            try:
                entity = await main.get_entity(encode_key(user_id), encode_key(installation_id))
            except ResourceNotFoundError:
                return None
        return from_entity(entity)

    async def find_owner(self, installation_id: str) -> str | None:
        """The user who claimed the installation id, or None."""
        claim = await self._claim_row(await self._tables.get(CLAIMS_TABLE), installation_id)
        return None if claim is None else str(claim["UserId"])

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
        records = await together(*(self.get(user_id, installation_id) for user_id, installation_id in hits))
        for (_, installation_id), record in zip(hits, records, strict=True):
            if record is not None and record.push_channel_hash == push_channel_hash:
                found.append(record)
            else:
                log.debug("ignoring stale channel index row installation_id=%s", installation_id)
        return found

    async def list_for_user(self, user_id: str) -> list[InstallationRecord]:
        main = await self._tables.get(MAIN_TABLE)
        rows = await self._reader.partition(main.table_name, encode_key(user_id), operation="list user's installations")
        return [from_entity(entity) for entity in rows]

    async def list_all(self) -> list[InstallationRecord]:
        """Every installation (a full table scan: for audience counts, not for request paths)."""
        main = await self._tables.get(MAIN_TABLE)
        with mapped_errors("list all installations"):
            return [from_entity(entity) async for entity in main.list_entities()]

    async def delete(self, user_id: str, installation_id: str) -> None:
        """Delete the main row, then its channel rows, then the user's claim (never another user's). Idempotent:
        no error when already gone."""
        old_hashes, claim = await self._known_channels(user_id, installation_id)
        main = await self._tables.get(MAIN_TABLE)
        with mapped_errors("delete installation"):
            await main.delete_entity(encode_key(user_id), encode_key(installation_id))
        for old_hash in old_hashes:
            await self._delete_channel_row(old_hash, user_id, installation_id)
        if claim is None or claim["UserId"] != user_id:
            return
        claims = await self._tables.get(CLAIMS_TABLE)
        with mapped_errors("release installation claim"):
            try:
                await claims.delete_entity(claim, match_condition=MatchConditions.IfNotModified)
            except ResourceModifiedError:
                log.info("installation_id=%s: its claim changed meanwhile and is left", installation_id)

    async def _delete_channel_row(self, push_channel_hash: str, user_id: str, installation_id: str) -> None:
        channels = await self._tables.get(CHANNELS_TABLE)
        with mapped_errors("delete installation channel index"):
            await channels.delete_entity(encode_key(push_channel_hash), channel_row(user_id, installation_id))
