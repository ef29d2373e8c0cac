"""Use case of the campaign timer: plan campaigns that are about to be due, hand their sends to NH wave by wave,
follow their telemetry, and finish cancellations. Never called from an HTTP request.

Each run looks only at campaigns whose ``next_check`` has come, and leaves each with its next one. Everything it
does is safe to repeat: planning writes the same rows again before the campaign is marked planned, sends are
claimed before NH is called (``campaign_sends``), and every campaign write is conditional on what was read, so a
concurrent cancellation is never overwritten.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import TypeVar

from shared.domain.audience import count_audience
from shared.domain.campaign_content import campaign_properties
from shared.domain.campaign_plan import plan_waves, send_key
from shared.domain.campaigns import (
    HANDOFF_LEAD,
    MAX_RECIPIENTS_PER_SEND,
    Campaign,
    CampaignSend,
    CampaignState,
    Recipient,
    SendState,
    campaign_state,
)
from shared.domain.errors import ConflictError, PushError, UpstreamUnavailableError
from shared.domain.languages import SUPPORTED_LANGUAGES
from shared.domain.secure_content import SecureItem
from shared.notification_hubs.models import template_notification
from shared.ports import CampaignPorts
from shared.usecases.campaign_sends import cancel_pending, follow_up, hand_off, is_claimable, needs_follow_up
from shared.usecases.preview_audience import resolve_audience

__all__ = ["RunReport", "current_sends", "next_check", "run_campaigns"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class RunReport:
    """What one run did (logged by the timer)."""

    campaigns: int = 0
    planned: int = 0
    handed_off: int = 0
    removed: int = 0


async def run_campaigns(ports: CampaignPorts) -> RunReport:
    """Advance every campaign whose next check has come. A campaign that meets a transient failure or a concurrent
    change is left for the next run; the others go on."""
    report = RunReport()
    budget = [ports.sends_per_run]
    for campaign in sorted(await ports.campaigns.due(ports.now()), key=lambda c: c.next_check or c.created_at):
        report.campaigns += 1
        try:
            await _advance(ports, campaign, report, budget)
        except (UpstreamUnavailableError, ConflictError) as exc:
            logger.warning("campaign %s left for the next run: %s", campaign.id, exc)
        except PushError:
            # Not transient, but one campaign must not hold up the others: logged, tried again next run.
            logger.exception("campaign %s could not be advanced", campaign.id)
    if report.campaigns:
        logger.info("campaign run: %s", report)
    return report


async def current_sends(ports: CampaignPorts, campaign: Campaign) -> list[CampaignSend]:
    """The sends of the campaign's plan (rows left by an abandoned planning are not part of it)."""
    if campaign.plan_version == 0:
        return []
    expected = {
        send_key(campaign.plan_version, wave.index, number)
        for wave in campaign.waves
        for number in range(-(-wave.installations // MAX_RECIPIENTS_PER_SEND))
    }
    return [send for send in await ports.campaigns.sends(campaign.id, campaign.plan_version) if send.key in expected]


async def _advance(ports: CampaignPorts, campaign: Campaign, report: RunReport, budget: list[int]) -> None:
    if campaign.state is not CampaignState.CANCELLED and campaign.plan_version == 0:
        if ports.now() < campaign.plan_at:
            return
        campaign = await _plan(ports, campaign)
        report.planned += 1
    sends = await current_sends(ports, campaign)
    if campaign.state is not CampaignState.CANCELLED:
        sends = await _hand_off_due(ports, campaign, sends, report, budget)
        latest = await ports.campaigns.get(campaign.id)
        if latest is not None and latest.state is CampaignState.CANCELLED:
            campaign = latest  # cancelled while this run handed sends over: take back what it scheduled
    if campaign.state is CampaignState.CANCELLED:
        sends = await cancel_pending(ports, sends)
    now = ports.now()
    due_reads = {send.key for send in [s for s in sends if needs_follow_up(s, now)][: ports.telemetry_per_run]}
    followed = await _gather(
        ports, [partial(follow_up, ports, s) if s.key in due_reads else partial(_kept, s) for s in sends]
    )
    report.removed += sum(
        len(after.removed) - len(before.removed) for before, after in zip(sends, followed, strict=True)
    )
    await _save_progress(ports, campaign, followed)


async def _plan(ports: CampaignPorts, campaign: Campaign) -> Campaign:
    now = ports.now()
    records = await resolve_audience(ports.installations, campaign.audience)
    recipients = [Recipient(r.user_id, r.installation_id, r.platform, r.language) for r in records]
    users = sorted({recipient.user_id for recipient in recipients})
    zones = await _zones(ports, users) if campaign.local_time is not None else None
    plan = plan_waves(
        campaign.id,
        1,
        recipients,
        now=now,
        send_at=campaign.send_at,
        policy=campaign.wave_policy,
        local_time=campaign.local_time,
        zones=zones,
    )
    if campaign.content.sensitive:
        await _gather(ports, [partial(ports.secure_content.put, _inbox_item(campaign, user, now)) for user in users])
    await ports.campaigns.add_sends(plan.sends)
    planned = replace(
        campaign, plan_version=1, waves=plan.waves, audience_counts=count_audience(records), next_check=now
    )
    logger.info("campaign %s planned: %s installations in %s waves", campaign.id, len(recipients), len(plan.waves))
    return await ports.campaigns.replace(planned)


async def _zones(ports: CampaignPorts, users: Sequence[str]) -> dict[str, str]:
    found = await _gather(ports, [partial(ports.preferences.get, user) for user in users])
    return {user: p.quiet_hours.time_zone for user, p in zip(users, found, strict=True) if p and p.quiet_hours}


def _inbox_item(campaign: Campaign, user_id: str, now: datetime) -> SecureItem:
    content = campaign.content
    return SecureItem(
        user_id=user_id,
        notification_id=campaign.id,
        source="campaign",
        event_type="campaign",
        titles={language: content.title(language) for language in SUPPORTED_LANGUAGES},
        bodies={language: content.body(language) for language in SUPPORTED_LANGUAGES},
        deep_link=content.deep_link,
        created_at=now,
    )


async def _hand_off_due(
    ports: CampaignPorts, campaign: Campaign, sends: list[CampaignSend], report: RunReport, budget: list[int]
) -> list[CampaignSend]:
    """Hand over the sends due within HANDOFF_LEAD, wave by wave: a wave only once every earlier one is handed over."""
    now = ports.now()
    notification = template_notification(campaign_properties(campaign.id, campaign.content))
    by_key = {send.key: send for send in sends}
    for wave in sorted({send.wave for send in sends}):
        in_wave = [send for send in sends if send.wave == wave]
        if any(send.due > now + HANDOFF_LEAD for send in in_wave):
            break
        claimable = [send for send in in_wave if is_claimable(send, now, ports.send_stale_after)][: budget[0]]
        budget[0] -= len(claimable)
        done = await _gather(ports, [partial(hand_off, ports, campaign, send, notification) for send in claimable])
        by_key.update((send.key, send) for send in done)
        report.handed_off += sum(1 for send in done if send.state is not SendState.CLAIMED)
        if any(by_key[send.key].state in (SendState.PLANNED, SendState.CLAIMED) for send in in_wave):
            break  # out of budget, or another worker holds part of this wave: later waves wait
    return [by_key[send.key] for send in sends]


def next_check(
    campaign: Campaign, sends: Sequence[CampaignSend], now: datetime, ports: CampaignPorts
) -> datetime | None:
    """When the worker must look at the campaign again; None when nothing is left to do."""
    if campaign.plan_version == 0:
        return None if campaign.state is CampaignState.CANCELLED else campaign.plan_at
    moments: list[datetime] = []
    for send in sends:
        if campaign.state is not CampaignState.CANCELLED and send.state is SendState.PLANNED:
            moments.append(send.due - HANDOFF_LEAD)
        elif send.state is SendState.CLAIMED and send.claimed_at is not None:
            moments.append(send.claimed_at + ports.send_stale_after)
        elif campaign.state is CampaignState.CANCELLED and send.pending(now):
            moments.append(now + ports.telemetry_poll)  # a scheduled send NH could not cancel yet
        elif send.notification_id and not send.telemetry_final and send.state in (SendState.SENT, SendState.SCHEDULED):
            moments.append(max(send.due, now) + ports.telemetry_poll)
    return max(min(moments), now) if moments else None


async def _save_progress(ports: CampaignPorts, campaign: Campaign, sends: list[CampaignSend]) -> None:
    for _ in range(3):
        now = ports.now()
        state = campaign_state(campaign, sends, now)
        updated = replace(campaign, state=state, next_check=next_check(campaign, sends, now, ports))
        if updated == campaign:
            return
        try:
            await ports.campaigns.replace(updated)
            return
        except ConflictError:
            latest = await ports.campaigns.get(campaign.id)
            if latest is None:
                return
            if latest.state is CampaignState.CANCELLED and campaign.state is not CampaignState.CANCELLED:
                sends = await cancel_pending(ports, sends)
            campaign = latest
    raise ConflictError(f"campaign {campaign.id} keeps changing under the worker")


async def _kept(send: CampaignSend) -> CampaignSend:
    return send


async def _gather(ports: CampaignPorts, calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run ``calls`` with at most ``ports.concurrency`` at once. After the first error no further call starts (when
    storage or NH fails, handing over more sends would only widen the crash window); the calls already running
    finish, then the error is raised."""
    gate = asyncio.Semaphore(ports.concurrency)
    failures: list[Exception] = []
    results: dict[int, T] = {}

    async def gated(index: int, call: Callable[[], Awaitable[T]]) -> None:
        async with gate:
            if failures:
                return
            try:
                results[index] = await call()
            except Exception as exc:
                failures.append(exc)

    await asyncio.gather(*(gated(index, call) for index, call in enumerate(calls)))
    if failures:
        raise failures[0]
    return [results[index] for index in range(len(calls))]
