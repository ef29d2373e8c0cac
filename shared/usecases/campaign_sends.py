"""One campaign send's life: claimed, handed to NH (sent now or scheduled), followed up, or cancelled.

A send is claimed with an etag-conditional write (``planned`` -> ``claimed``) before NH is called and recorded
after, so two workers never hand over the same send, and a worker that dies leaves a ``claimed`` row: after
``send_stale_after`` the next run takes it over and hands it over again. That is the one window in which a send
can reach devices twice (NH accepted it, the record never happened); it is at most one send, of at most five
installations, and the campaign's id is the collapse id, so a device replaces the first copy with the second.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import replace
from datetime import datetime, timedelta

from shared.domain.campaigns import Campaign, CampaignSend, SendState, target_expression
from shared.domain.errors import (
    ConflictError,
    NotFoundError,
    PushRejectedError,
    UpstreamUnavailableError,
    ValidationError,
)
from shared.notification_hubs.models import Notification
from shared.ports import CampaignPorts
from shared.usecases.token_hygiene import dead_channel_platforms, remove_dead_channels

__all__ = [
    "FINAL_TELEMETRY_STATES",
    "SCHEDULE_AHEAD_MIN",
    "cancel_pending",
    "follow_up",
    "hand_off",
    "is_claimable",
    "needs_follow_up",
    "save_send",
]

logger = logging.getLogger(__name__)

FINAL_TELEMETRY_STATES = frozenset({"Completed", "NoTargetFound", "Abandoned", "Cancelled", "Unavailable"})
# A send due sooner than this goes out at once; later ones become NH scheduled sends for their exact time (a wave
# after a short pause must not leave early because the worker happened to hand it over a few seconds before).
SCHEDULE_AHEAD_MIN = timedelta(seconds=1)
_RECORD_ATTEMPTS = 3  # on top of the Tables client's own retries


def is_claimable(send: CampaignSend, now: datetime, stale_after: timedelta) -> bool:
    """Planned, or claimed by a worker that has not finished within ``stale_after`` (it died)."""
    if send.state is SendState.PLANNED:
        return True
    return send.state is SendState.CLAIMED and send.claimed_at is not None and now - send.claimed_at >= stale_after


async def save_send(ports: CampaignPorts, send: CampaignSend) -> CampaignSend:
    """Write a send's new state, retrying a transient storage failure a few times.

    Raises ConflictError when another worker took the send over, UpstreamUnavailableError when storage stays away.
    """
    for attempt in range(1, _RECORD_ATTEMPTS + 1):
        try:
            return await ports.campaigns.replace_send(send)
        except UpstreamUnavailableError:
            if attempt == _RECORD_ATTEMPTS:
                raise
            await asyncio.sleep(0.1 * 2**attempt)
    raise AssertionError("unreachable")


async def hand_off(
    ports: CampaignPorts, campaign: Campaign, send: CampaignSend, notification: Notification
) -> CampaignSend:
    """Claim ``send`` and hand it to NH; returns it as recorded (unchanged when another worker holds it).

    Raises UpstreamUnavailableError when NH or storage is unavailable for now (the claim is given back).
    """
    now = ports.now()
    try:
        claimed = await ports.campaigns.replace_send(
            replace(send, state=SendState.CLAIMED, attempt=send.attempt + 1, claimed_at=now)
        )
    except ConflictError:
        return send
    expression = target_expression(send.recipients, campaign.content.template)
    try:
        if send.due - now >= SCHEDULE_AHEAD_MIN:
            scheduled = await ports.push.schedule(notification, send.due, tag_expression=expression)
            finished = replace(claimed, state=SendState.SCHEDULED, notification_id=scheduled.scheduled_id)
        else:
            result = await ports.push.send(notification, tag_expression=expression)
            finished = replace(claimed, state=SendState.SENT, notification_id=result.notification_id)
    except UpstreamUnavailableError:
        with suppress(UpstreamUnavailableError, ConflictError):
            await ports.campaigns.replace_send(replace(claimed, state=SendState.PLANNED))
        raise
    except (PushRejectedError, ValidationError) as exc:
        logger.error("campaign %s send %s refused by Notification Hubs: %s", campaign.id, send.key, exc)
        finished = replace(claimed, state=SendState.FAILED, detail=str(exc)[:500])
    finished = replace(finished, handed_off_at=ports.now())
    try:
        return await save_send(ports, finished)
    except ConflictError:
        logger.error("campaign %s send %s was taken over while this worker handed it off", campaign.id, send.key)
        return finished


async def cancel_pending(ports: CampaignPorts, sends: list[CampaignSend]) -> list[CampaignSend]:
    """Cancel every send that has not gone out: planned ones in storage, scheduled ones in NH too.

    A send claimed by a live worker is left to it (it re-reads the campaign when done and cancels its own).
    Raises UpstreamUnavailableError when NH or storage is unavailable (what was cancelled stays cancelled).
    """
    now = ports.now()
    result: list[CampaignSend] = []
    for send in sends:
        if send.state is SendState.SCHEDULED and send.due > now and send.notification_id:
            try:
                await ports.push.cancel_scheduled(send.notification_id)
            except NotFoundError:
                result.append(send)  # NH no longer holds it: it has gone out
                continue
            send = await _cancelled(ports, send)
        elif send.state is SendState.PLANNED or is_claimable(send, now, ports.send_stale_after):
            # A stale claim is a worker that died handing it over: whether NH took it is unknown, nothing to cancel.
            send = await _cancelled(ports, send)
        result.append(send)
    return result


async def _cancelled(ports: CampaignPorts, send: CampaignSend) -> CampaignSend:
    try:
        return await save_send(ports, replace(send, state=SendState.CANCELLED, telemetry_final=True))
    except ConflictError:
        return send  # a worker claimed it meanwhile; it sees the cancellation when it re-reads the campaign


def needs_follow_up(send: CampaignSend, now: datetime) -> bool:
    """Gone out, with an NH id, and NH's telemetry not final yet."""
    return send.notification_id is not None and not send.telemetry_final and send.gone_out(now)


async def follow_up(ports: CampaignPorts, send: CampaignSend) -> CampaignSend:
    """Read NH's telemetry of a send that has gone out; on a final answer, remove installations with dead channels.

    Returns the send as recorded. Raises UpstreamUnavailableError when NH or storage is unavailable for now.
    """
    now = ports.now()
    if send.notification_id is None or not needs_follow_up(send, now):
        return send
    since = max(send.due, send.handed_off_at or send.due)
    try:
        details = await ports.push.get_notification_details(send.notification_id)
    except (NotFoundError, PushRejectedError):
        # Not yet (NH needs a while), or never (no telemetry below the Standard tier).
        if now - since < ports.telemetry_give_up:
            return send
        return await _record(ports, replace(send, telemetry_state="Unavailable", telemetry_final=True))
    final = details.state in FINAL_TELEMETRY_STATES
    updated = replace(send, telemetry_state=details.state, outcomes=details.outcome_counts, telemetry_final=final)
    if final:
        dead = dead_channel_platforms(details.outcome_counts)
        suspects = [recipient for recipient in send.recipients if recipient.platform.value in dead]
        if suspects:
            removed = await remove_dead_channels(ports.push, ports.installations, suspects, sent_at=since)
            updated = replace(updated, removed=tuple(removed))
    if updated == send:
        return send
    return await _record(ports, updated)


async def _record(ports: CampaignPorts, send: CampaignSend) -> CampaignSend:
    try:
        return await save_send(ports, send)
    except ConflictError:
        return send
