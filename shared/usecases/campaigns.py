"""Use cases of operators' sends as the API offers them: accept one, read one or all, cancel one.

Accepting a campaign only checks and stores it: the campaign timer (``campaign_runner``) plans and sends it.
The same ``Idempotency-Key`` from the same caller always names the same campaign: a retry gets the first answer,
and the same key with a different request is refused rather than sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, replace
from typing import Any

from shared.domain.campaign_content import check_content
from shared.domain.campaign_plan import plan_at
from shared.domain.campaigns import Campaign, CampaignSend, CampaignState, campaign_state
from shared.domain.errors import ConflictError, NotFoundError
from shared.domain.identity import Identity
from shared.ports import CampaignPorts
from shared.usecases.campaign_runner import current_sends
from shared.usecases.campaign_sends import cancel_pending
from shared.usecases.commands import SendCampaign

__all__ = ["CampaignView", "cancel_campaign", "create_campaign", "get_campaign", "list_campaigns"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CampaignView:
    """A campaign with the sends of its plan and its state as of now."""

    campaign: Campaign
    sends: list[CampaignSend]
    state: CampaignState


async def create_campaign(ports: CampaignPorts, identity: Identity, command: SendCampaign) -> tuple[Campaign, bool]:
    """Check and store a campaign; returns it and whether it is new (False: the same Idempotency-Key before).

    Raises ValidationError for content that cannot be sent, ConflictError when the Idempotency-Key was
    used for a different request, UpstreamError when storage fails.
    """
    check_content(command.content)
    campaign_id, fingerprint = _campaign_id(identity, command.idempotency_key), _fingerprint(command)
    if command.idempotency_key is not None:
        # A retry gets the first answer (and the first send time), whenever it comes.
        existing = await ports.campaigns.get(campaign_id)
        if existing is not None:
            return _repeated(existing, fingerprint), False
    now = ports.now()
    # A send time that has passed means now, and the answer says so; a local time that has passed in some zones
    # (or all) goes to those at once (shared.domain.campaign_plan).
    send_at = None if command.send_at is None else max(command.send_at, now)
    due_plan = plan_at(send_at, command.local_time, now)
    campaign = Campaign(
        id=campaign_id,
        created_by=identity.user_id,
        created_at=now,
        fingerprint=fingerprint,
        audience=command.audience,
        content=command.content,
        send_at=send_at,
        local_time=command.local_time,
        wave_policy=command.waves,
        plan_at=due_plan,
        next_check=due_plan,
    )
    try:
        stored = await ports.campaigns.create(campaign)
    except ConflictError:
        existing = await ports.campaigns.get(campaign.id)  # the same key, sent twice at once
        if existing is None:
            raise
        return _repeated(existing, fingerprint), False
    logger.info("campaign %s accepted from %s, planned for %s", stored.id, identity.user_id, due_plan.isoformat())
    return stored, True


async def get_campaign(ports: CampaignPorts, campaign_id: str) -> CampaignView:
    """The campaign, its sends and its current state. Raises NotFoundError."""
    campaign = await ports.campaigns.get(campaign_id)
    if campaign is None:
        raise NotFoundError(f"no notification {campaign_id!r}")
    sends = await current_sends(ports, campaign)
    return CampaignView(campaign, sends, campaign_state(campaign, sends, ports.now()))


async def list_campaigns(ports: CampaignPorts, limit: int = 100) -> list[Campaign]:
    """The newest campaigns, newest first (their state as the worker last recorded it)."""
    return await ports.campaigns.list_recent(limit)


async def cancel_campaign(ports: CampaignPorts, identity: Identity, campaign_id: str) -> CampaignView:
    """Cancel what has not gone out yet, NH scheduled sends included; cancelling again changes nothing.

    Raises NotFoundError, ConflictError when everything has gone out already, UpstreamError when NH or storage
    fail (the campaign stays cancelled, and the campaign timer finishes cancelling its sends).
    """
    for _ in range(3):
        view = await get_campaign(ports, campaign_id)
        if view.state is CampaignState.CANCELLED:
            break
        if view.state in (CampaignState.SENT, CampaignState.FAILED):
            raise ConflictError(f"notification {campaign_id!r} has gone out already; nothing is left to cancel")
        now = ports.now()
        cancelled = replace(
            view.campaign,
            state=CampaignState.CANCELLED,
            cancelled_at=now,
            cancelled_by=identity.user_id,
            next_check=now,
        )
        try:
            await ports.campaigns.replace(cancelled)
        except ConflictError:
            continue  # the worker moved it on meanwhile: look again
        logger.info("campaign %s cancelled by %s", campaign_id, identity.user_id)
        break
    else:
        raise ConflictError(f"notification {campaign_id!r} keeps changing; try again")
    await cancel_pending(ports, view.sends)
    return await get_campaign(ports, campaign_id)


def _repeated(existing: Campaign, fingerprint: str) -> Campaign:
    if existing.fingerprint != fingerprint:
        raise ConflictError("this Idempotency-Key was already used for a different request")
    logger.info("campaign %s: repeated request with the same Idempotency-Key", existing.id)
    return existing


def _campaign_id(identity: Identity, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return "c" + uuid.uuid4().hex
    # Keys are the caller's own: two operators using the same key do not collide.
    return "c" + hashlib.sha256(f"{identity.user_id}\n{idempotency_key}".encode()).hexdigest()[:32]


def _fingerprint(command: SendCampaign) -> str:
    """A digest of everything the request asks for (not its key), to recognise a retry of the same request."""
    content = command.content
    document: dict[str, Any] = {
        "expression": command.audience.expression,
        "users": list(command.audience.users),
        "titles": dict(sorted(content.titles.items())),
        "bodies": dict(sorted(content.bodies.items())),
        "defaultLanguage": content.default_language,
        "deepLink": content.deep_link,
        "template": content.template,
        "sensitive": content.sensitive,
        "sendAt": command.send_at.isoformat() if command.send_at else None,
        "localTime": [command.local_time.at.isoformat(), command.local_time.fallback_zone]
        if command.local_time
        else None,
        "waves": [list(command.waves.weights), command.waves.pause.total_seconds()] if command.waves else None,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
