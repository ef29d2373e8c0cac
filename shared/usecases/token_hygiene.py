"""Use cases that keep the device list clean: drop installations whose channel is dead, and long-idle ones.

A dead channel is learnt from a send's telemetry: an outcome such as ``ExpiredChannel`` for a platform makes the
send's installations on that platform suspects, and Notification Hubs' own ``pushChannelExpired`` flag on each
decides (NH sets it when the PNS reports the handle dead, NH-REST §7). ``UnknownError`` counts as a suspect too:
NH reports dead FCM v1 tokens that way. An installation is removed from NH, then from the mirror, unless its owner
refreshed it after the send (a new registration carries a live channel). Idle installations are those not refreshed
(the app registers at every launch) for a configurable time: FCM treats tokens idle for 270 days as expired.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.campaigns import Recipient
from shared.domain.errors import NotFoundError
from shared.ports import InstallationMirror, PushGateway

__all__ = [
    "DEAD_CHANNEL_OUTCOMES",
    "DEFAULT_IDLE_AFTER",
    "SweepReport",
    "dead_channel_platforms",
    "remove_dead_channels",
    "sweep_idle_installations",
]

logger = logging.getLogger(__name__)

DEAD_CHANNEL_OUTCOMES = frozenset({"ExpiredChannel", "BadChannel", "WrongToken", "InvalidToken", "UnknownError"})
DEFAULT_IDLE_AFTER = timedelta(days=270)


@dataclass(frozen=True)
class SweepReport:
    checked: int
    removed: tuple[str, ...]


def dead_channel_platforms(outcomes: Mapping[str, Mapping[str, int]]) -> set[str]:
    """The platforms whose telemetry reports at least one outcome that may mean a dead channel."""
    return {
        platform
        for platform, counts in outcomes.items()
        if any(count > 0 and name in DEAD_CHANNEL_OUTCOMES for name, count in counts.items())
    }


async def remove_dead_channels(
    push: PushGateway, installations: InstallationMirror, suspects: Sequence[Recipient], *, sent_at: datetime
) -> list[str]:
    """Remove the suspects NH marks ``pushChannelExpired``; returns the removed installation ids.

    One not refreshed since ``sent_at`` only. Raises UpstreamError (UpstreamUnavailableError when transient).
    """
    removed: list[str] = []
    for suspect in suspects:
        try:
            installation = await push.get_installation(suspect.installation_id)
        except NotFoundError:
            continue  # already gone from NH: nothing sends to it
        if not installation.push_channel_expired:
            continue
        record = await installations.get(suspect.user_id, suspect.installation_id)
        if record is not None and record.updated_at > sent_at:
            continue  # registered again since the send: its channel is a new one
        await _remove(push, installations, suspect.user_id, suspect.installation_id, "dead channel")
        removed.append(suspect.installation_id)
    return removed


async def sweep_idle_installations(
    push: PushGateway, installations: InstallationMirror, now: datetime, idle_after: timedelta
) -> SweepReport:
    """Remove every installation not refreshed for ``idle_after``. Raises UpstreamError when NH or storage fail
    (what was removed before stays removed; the next sweep continues)."""
    records = await installations.list_all()
    cutoff = now - idle_after
    removed: list[str] = []
    for record in records:
        if record.updated_at < cutoff:
            await _remove(push, installations, record.user_id, record.installation_id, "idle")
            removed.append(record.installation_id)
    logger.info("idle sweep: %s of %s installations removed (idle since %s)", len(removed), len(records), cutoff)
    return SweepReport(checked=len(records), removed=tuple(removed))


async def _remove(
    push: PushGateway, installations: InstallationMirror, user_id: str, installation_id: str, why: str
) -> None:
    # NH first (pushes stop), then the mirror, as unregistering does.
    await push.delete_installation(installation_id)
    await installations.delete(user_id, installation_id)
    logger.info("removed installation_id=%s: %s", installation_id, why)
