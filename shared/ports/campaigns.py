"""The campaign store: operators' sends, and their NH sends with the claims that make a crash resumable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from shared.domain.campaigns import Campaign, CampaignSend

__all__ = ["CampaignStore"]


class CampaignStore(Protocol):
    """Campaigns and their sends. Writes that take an object carrying an ``etag`` are conditional on it.

    Every method raises UpstreamError (UpstreamUnavailableError when transient) when storage fails.
    """

    async def create(self, campaign: Campaign) -> Campaign:
        """Store a new campaign and return it with its etag. Raises ConflictError when the id exists already."""
        ...

    async def get(self, campaign_id: str) -> Campaign | None: ...

    async def list_recent(self, limit: int) -> list[Campaign]:
        """The newest ``limit`` campaigns, newest first."""
        ...

    async def replace(self, campaign: Campaign) -> Campaign:
        """Write ``campaign`` if the stored one still has ``campaign.etag``; returns it with the new etag.

        Raises ConflictError when it was changed since it was read.
        """
        ...

    async def due(self, now: datetime) -> list[Campaign]:
        """Campaigns whose ``next_check`` is at or before ``now``."""
        ...

    async def add_sends(self, sends: Sequence[CampaignSend]) -> None:
        """Write the sends of a planning (all of one campaign); writing the same sends again changes nothing."""
        ...

    async def sends(self, campaign_id: str, plan_version: int) -> list[CampaignSend]:
        """The sends of one planning of a campaign, in key order, each with its etag."""
        ...

    async def replace_send(self, send: CampaignSend) -> CampaignSend:
        """Write ``send`` if the stored one still has ``send.etag``; returns it with the new etag.

        Raises ConflictError when another worker changed it since it was read (a claim lost to another).
        """
        ...
