"""Operators' sends (campaigns): what was asked, when, the waves it was planned into, and the state a reader sees.

A campaign is planned once, shortly before its first send is due (``HANDOFF_LEAD``): its audience is read from the
installations mirror and frozen into waves, and each wave into NH sends of at most ``MAX_RECIPIENTS_PER_SEND``
installations (one ``CampaignSend`` row each, the unit that is claimed, sent and followed up). A send due within
``HANDOFF_LEAD`` is handed to Notification Hubs: sent at once when due, else as an NH scheduled send for its exact
time; anything further ahead, including beyond NH's 7-day scheduling limit, is held by the app until then.

States: ``scheduled`` (nothing has gone out), ``sending`` (some sends are out, some not yet), ``sent`` (every send is
out; some may have failed), ``failed`` (every send failed), ``cancelled`` (an operator stopped what had not gone out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from shared.domain.audience import Audience, AudienceCounts
from shared.domain.device_templates import TemplateName
from shared.domain.records import Platform

__all__ = [
    "HANDOFF_LEAD",
    "MAX_RECIPIENTS_PER_SEND",
    "Campaign",
    "CampaignContent",
    "CampaignSend",
    "CampaignState",
    "LocalTime",
    "Recipient",
    "SendState",
    "WavePolicy",
    "WaveSummary",
    "campaign_state",
    "target_expression",
]

# How long before its due time a send is handed to NH (and the audience resolved before the first one). Short, so
# that the audience is read close to send time; NH's scheduled sends then keep the exact time.
HANDOFF_LEAD = timedelta(minutes=10)
# An NH template send must name one template ("&& alert"), which makes the expression mixed: at most 6 tags, so
# 5 "$InstallationId:{...}" tags and the template name.
MAX_RECIPIENTS_PER_SEND = 5


class CampaignState(StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"
    FAILED = "failed"


class SendState(StrEnum):
    PLANNED = "planned"  # not yet handed to NH
    CLAIMED = "claimed"  # a worker is handing it over now (or crashed doing so: stale after a while)
    SENT = "sent"  # NH accepted it for immediate delivery
    SCHEDULED = "scheduled"  # NH holds it as a scheduled send until ``due``
    CANCELLED = "cancelled"
    FAILED = "failed"  # NH refused it for good (``detail``)


@dataclass(frozen=True)
class LocalTime:
    """ "At ``at`` on each recipient's own clock": ``at`` is a naive wall-clock time; recipients whose time zone is
    unknown get ``fallback_zone``."""

    at: datetime
    fallback_zone: str

    def due_in(self, zone: str) -> datetime:
        """The UTC instant at which it is ``at`` in ``zone`` (a wall time that DST skips takes the earlier offset)."""
        return self.at.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


@dataclass(frozen=True)
class WavePolicy:
    """Waves, each ``pause`` after the previous one; a wave's share of the audience is its weight ÷ the sum of
    ``weights`` (so [10, 40, 50] reads as percentages and [1, 1] is halves)."""

    weights: tuple[int, ...]
    pause: timedelta


@dataclass(frozen=True)
class CampaignContent:
    """What recipients read: text per language (falling back to ``default_language``), link, template, mode."""

    titles: Mapping[str, str]
    bodies: Mapping[str, str]
    default_language: str
    deep_link: str | None = None
    template: TemplateName = "alert"
    sensitive: bool = False

    def title(self, language: str) -> str:
        return self.titles.get(language) or self.titles[self.default_language]

    def body(self, language: str) -> str:
        return self.bodies.get(language) or self.bodies[self.default_language]


@dataclass(frozen=True)
class WaveSummary:
    """One wave as planned: when it is due, which share or time zone it stands for, how many it reaches."""

    index: int
    due: datetime
    weight: int | None  # the wave's weight; None when the send is one wave
    time_zone: str | None
    installations: int
    users: int


@dataclass(frozen=True)
class Campaign:
    """A send to an audience. ``plan_version`` 0 means not planned yet; ``next_check`` None means nothing is left
    for the worker to do. ``etag`` is the stored version this copy was read at (None before it is stored)."""

    id: str
    created_by: str
    created_at: datetime
    fingerprint: str
    audience: Audience
    content: CampaignContent
    send_at: datetime | None
    local_time: LocalTime | None
    wave_policy: WavePolicy | None
    plan_at: datetime
    next_check: datetime | None
    state: CampaignState = CampaignState.SCHEDULED
    plan_version: int = 0
    waves: tuple[WaveSummary, ...] = ()
    audience_counts: AudienceCounts | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    etag: str | None = None


@dataclass(frozen=True)
class Recipient:
    """One installation a campaign reaches, as the mirror knew it when the campaign was planned."""

    user_id: str
    installation_id: str
    platform: Platform
    language: str


@dataclass(frozen=True)
class CampaignSend:
    """One NH send of a wave: the unit claimed (etag-conditional), handed over, then followed up by telemetry."""

    campaign_id: str
    key: str
    plan_version: int
    wave: int
    due: datetime
    recipients: tuple[Recipient, ...]
    state: SendState = SendState.PLANNED
    attempt: int = 0
    claimed_at: datetime | None = None
    notification_id: str | None = None
    handed_off_at: datetime | None = None
    telemetry_state: str | None = None
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    telemetry_final: bool = False
    removed: tuple[str, ...] = ()
    detail: str | None = None
    etag: str | None = None

    def gone_out(self, now: datetime) -> bool:
        """NH has delivered it or is delivering it: sent, or scheduled and its time has come."""
        return self.state is SendState.SENT or (self.state is SendState.SCHEDULED and self.due <= now)

    def pending(self, now: datetime) -> bool:
        """Not gone out yet and not cancelled or failed: it can still be cancelled."""
        return self.state in (SendState.PLANNED, SendState.CLAIMED) or (
            self.state is SendState.SCHEDULED and self.due > now
        )


def campaign_state(campaign: Campaign, sends: Sequence[CampaignSend], now: datetime) -> CampaignState:
    """The state as of ``now``, from the campaign and its current plan's sends (a scheduled send turns into a sent
    one when its time passes, without anyone writing it down)."""
    if campaign.state is CampaignState.CANCELLED:
        return CampaignState.CANCELLED
    if campaign.plan_version == 0:
        return CampaignState.SCHEDULED
    out = any(send.gone_out(now) for send in sends)
    failed = any(send.state is SendState.FAILED for send in sends)
    if any(send.pending(now) for send in sends):
        started = out or failed or any(send.state is SendState.CLAIMED or send.due <= now for send in sends)
        return CampaignState.SENDING if started else CampaignState.SCHEDULED
    if failed and not out:
        return CampaignState.FAILED
    return CampaignState.SENT


def target_expression(recipients: Sequence[Recipient], template: TemplateName) -> str:
    """The tag expression that reaches exactly these installations through one template.

    Raises ValueError for an empty list or more than MAX_RECIPIENTS_PER_SEND recipients (NH's tag limit).
    """
    if not recipients or len(recipients) > MAX_RECIPIENTS_PER_SEND:
        raise ValueError(f"a send names 1 to {MAX_RECIPIENTS_PER_SEND} installations, not {len(recipients)}")
    installations = " || ".join(f"$InstallationId:{{{r.installation_id}}}" for r in recipients)
    return f"({installations}) && {template}"
