"""TableCampaignStore: campaigns in the ``campaigns`` table, their NH sends in ``campaignsends``.

Every replace is etag-conditional (Tables answers 412 when the row changed since it was read): that is how a send is
claimed by one worker only, and how a cancellation and a worker's progress never overwrite each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.adapters.tables.campaign_rows import (
    CAMPAIGN_PARTITION,
    campaign_entity,
    campaign_from_entity,
    send_entity,
    send_from_entity,
)
from shared.adapters.tables.common import TableSet, encode_key, mapped_errors, utc
from shared.domain.campaign_plan import version_prefix
from shared.domain.campaigns import Campaign, CampaignSend
from shared.domain.errors import ConflictError

__all__ = ["TableCampaignStore"]

CAMPAIGNS_TABLE = "campaigns"
SENDS_TABLE = "campaignsends"
_TRANSACTION_SIZE = 100  # Tables' limit of operations in one entity-group transaction
_Record = TypeVar("_Record", Campaign, CampaignSend)


def _etag(metadata: Any) -> str | None:
    etag = metadata.get("etag") if metadata else None
    return str(etag) if etag is not None else None


class TableCampaignStore:
    """CampaignStore on azure.data.tables.aio. Raises UpstreamError (UpstreamUnavailableError when transient)."""

    def __init__(self, service: TableServiceClient, table_prefix: str = "") -> None:
        self._tables = TableSet(service, table_prefix)

    async def create(self, campaign: Campaign) -> Campaign:
        """Insert-if-absent. Raises ConflictError when a campaign with this id exists."""
        table = await self._tables.get(CAMPAIGNS_TABLE)
        with mapped_errors("create campaign"):
            try:
                metadata = await table.create_entity(campaign_entity(campaign))
            except ResourceExistsError as exc:
                raise ConflictError(f"campaign {campaign.id} exists") from exc
        return _with_etag(campaign, _etag(metadata))

    async def get(self, campaign_id: str) -> Campaign | None:
        table = await self._tables.get(CAMPAIGNS_TABLE)
        with mapped_errors("get campaign"):
            try:
                entity = await table.get_entity(CAMPAIGN_PARTITION, encode_key(campaign_id))
            except ResourceNotFoundError:
                return None
        return campaign_from_entity(entity, _etag(entity.metadata))

    async def list_recent(self, limit: int) -> list[Campaign]:
        """Reads the campaigns partition whole (operators' sends are few) and sorts it newest first."""
        found = await self._query("PartitionKey eq @pk", {"pk": CAMPAIGN_PARTITION})
        return sorted(found, key=lambda campaign: campaign.created_at, reverse=True)[:limit]

    async def replace(self, campaign: Campaign) -> Campaign:
        """Raises ConflictError when the stored campaign is no longer at ``campaign.etag`` (or is gone)."""
        table = await self._tables.get(CAMPAIGNS_TABLE)
        metadata = await _replace_if_unchanged(table, campaign_entity(campaign), campaign.etag, "replace campaign")
        return _with_etag(campaign, _etag(metadata))

    async def due(self, now: datetime) -> list[Campaign]:
        return await self._query(
            "PartitionKey eq @pk and NextCheck le @now", {"pk": CAMPAIGN_PARTITION, "now": utc(now)}
        )

    async def add_sends(self, sends: Sequence[CampaignSend]) -> None:
        """Upserts in transactions of 100 (one partition: one campaign), so that a repeat rewrites the same rows."""
        table = await self._tables.get(SENDS_TABLE)
        operations = [("upsert", send_entity(send), {"mode": UpdateMode.REPLACE}) for send in sends]
        for start in range(0, len(operations), _TRANSACTION_SIZE):
            with mapped_errors("write campaign sends"):
                await table.submit_transaction(operations[start : start + _TRANSACTION_SIZE])

    async def sends(self, campaign_id: str, plan_version: int) -> list[CampaignSend]:
        table = await self._tables.get(SENDS_TABLE)
        prefix = version_prefix(plan_version)
        with mapped_errors("list campaign sends"):
            entities = [
                entity
                async for entity in table.query_entities(
                    "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
                    parameters={"pk": encode_key(campaign_id), "low": prefix, "high": prefix[:-1] + "."},
                )
            ]
        return sorted((send_from_entity(e, _etag(e.metadata)) for e in entities), key=lambda send: send.key)

    async def replace_send(self, send: CampaignSend) -> CampaignSend:
        """Raises ConflictError when another worker changed the send since it was read."""
        table = await self._tables.get(SENDS_TABLE)
        metadata = await _replace_if_unchanged(table, send_entity(send), send.etag, "replace campaign send")
        return _with_etag(send, _etag(metadata))

    async def _query(self, query: str, parameters: dict[str, Any]) -> list[Campaign]:
        table = await self._tables.get(CAMPAIGNS_TABLE)
        with mapped_errors("query campaigns"):
            entities = [entity async for entity in table.query_entities(query, parameters=parameters)]
        return [campaign_from_entity(entity, _etag(entity.metadata)) for entity in entities]


async def _replace_if_unchanged(table: TableClient, entity: dict[str, Any], etag: str | None, what: str) -> Any:
    if etag is None:
        raise ConflictError(f"{what}: the record was not read from storage (no etag)")
    with mapped_errors(what):
        try:
            return await table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError) as exc:
            raise ConflictError(f"{what}: changed by someone else since it was read") from exc


def _with_etag(record: _Record, etag: str | None) -> _Record:
    return replace(record, etag=etag)
