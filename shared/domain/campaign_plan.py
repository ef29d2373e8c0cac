"""Planning a campaign: when to resolve its audience, and how the recipients split into waves and NH sends.

Rules (docs/operations.md repeats them for operators):

- Waves split the audience by *user*, so that all devices of one person get the campaign in the same wave. Users are
  ordered by a hash of campaign id and user id: a stable, fair sample, different for every campaign. Wave ``n`` is
  the next ``weights[n]`` ÷ ``sum(weights)`` of the users (rounded at cumulative boundaries), due ``pause`` after
  wave ``n-1``.
- Local time ("09:00 in each recipient's time zone"): a user's zone is the one of their quiet hours (the only time
  zone a user tells us); users without one get the campaign's fallback zone. Each zone is its own group, due at the
  wall-clock time there (never before planning), and is split into waves like a whole audience.
- The audience is resolved ``HANDOFF_LEAD`` before the first moment the campaign could be due: the send time, or for
  local time the wall-clock time in UTC+14, the earliest zone on Earth.
- Within a wave, recipients go into NH sends of at most ``MAX_RECIPIENTS_PER_SEND`` installations.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.domain.campaigns import (
    HANDOFF_LEAD,
    MAX_RECIPIENTS_PER_SEND,
    CampaignSend,
    LocalTime,
    Recipient,
    WavePolicy,
    WaveSummary,
)

__all__ = ["EARLIEST_UTC_OFFSET", "Plan", "first_possible_due", "plan_at", "plan_waves", "send_key", "version_prefix"]

EARLIEST_UTC_OFFSET = timedelta(hours=14)  # Pacific/Kiritimati: the first place where a wall-clock time arrives
_WHOLE = WavePolicy(weights=(1,), pause=timedelta(0))


@dataclass(frozen=True)
class Plan:
    """The waves of one planning, and the NH sends they consist of."""

    waves: tuple[WaveSummary, ...]
    sends: tuple[CampaignSend, ...]


def first_possible_due(send_at: datetime | None, local_time: LocalTime | None, now: datetime) -> datetime:
    """The earliest moment any recipient could be due."""
    if local_time is not None:
        return local_time.at.replace(tzinfo=UTC) - EARLIEST_UTC_OFFSET
    return send_at if send_at is not None else now


def plan_at(send_at: datetime | None, local_time: LocalTime | None, now: datetime) -> datetime:
    """When the worker resolves the audience and plans the waves: HANDOFF_LEAD before the first possible due time."""
    return max(first_possible_due(send_at, local_time, now) - HANDOFF_LEAD, now)


def version_prefix(plan_version: int) -> str:
    """The prefix every send key of one planning shares (sends of an abandoned planning are ignored)."""
    return f"v{plan_version:04d}-"


def send_key(plan_version: int, wave: int, index: int) -> str:
    return f"{version_prefix(plan_version)}w{wave:04d}-s{index:06d}"


def plan_waves(
    campaign_id: str,
    plan_version: int,
    recipients: Sequence[Recipient],
    *,
    now: datetime,
    send_at: datetime | None,
    policy: WavePolicy | None,
    local_time: LocalTime | None = None,
    zones: Mapping[str, str] | None = None,
) -> Plan:
    """Split ``recipients`` into waves and sends. ``zones`` maps user id to IANA zone (local-time campaigns only).

    Raises ValueError when a ``policy`` weight is not positive or there are none, or a time zone is unknown.
    """
    policy = policy or _WHOLE
    if not policy.weights or any(weight <= 0 for weight in policy.weights):
        raise ValueError("wave weights must be positive, at least one")
    by_user: dict[str, list[Recipient]] = {}
    for recipient in sorted(recipients, key=lambda r: (r.user_id, r.installation_id)):
        by_user.setdefault(recipient.user_id, []).append(recipient)
    groups: dict[str | None, list[str]] = {}
    for user_id in sorted(by_user, key=lambda user: _draw(campaign_id, user)):
        zone = None if local_time is None else (zones or {}).get(user_id) or local_time.fallback_zone
        groups.setdefault(zone, []).append(user_id)
    if not groups and local_time is None:
        groups[None] = []  # an empty audience still has its (empty) waves, so the campaign shows what happened
    start = max(send_at or now, now)
    slots: list[tuple[datetime, str | None, int | None, list[str]]] = []
    for zone, users in groups.items():
        group_due = start if zone is None or local_time is None else max(local_time.due_in(zone), now)
        for number, (share, members) in enumerate(_split(users, policy.weights)):
            slots.append((group_due + number * policy.pause, zone, share if len(policy.weights) > 1 else None, members))
    slots.sort(key=lambda slot: (slot[0], slot[1] or ""))
    waves: list[WaveSummary] = []
    sends: list[CampaignSend] = []
    for index, (due, zone, weight, members) in enumerate(slots, start=1):
        reached = [recipient for user in members for recipient in by_user[user]]
        waves.append(WaveSummary(index, due, weight, zone, len(reached), len(members)))
        for number, start_at in enumerate(range(0, len(reached), MAX_RECIPIENTS_PER_SEND)):
            batch = tuple(reached[start_at : start_at + MAX_RECIPIENTS_PER_SEND])
            sends.append(
                CampaignSend(campaign_id, send_key(plan_version, index, number), plan_version, index, due, batch)
            )
    return Plan(tuple(waves), tuple(sends))


def _draw(campaign_id: str, user_id: str) -> str:
    return hashlib.sha256(f"{campaign_id}\n{user_id}".encode()).hexdigest()


def _split(users: list[str], weights: Sequence[int]) -> list[tuple[int, list[str]]]:
    # With weights summing to 100 this is the percent split campaigns always had, boundary for boundary.
    whole = sum(weights)
    bounds = [round(total * len(users) / whole) for total in itertools.accumulate(weights)]
    lows = [0, *bounds[:-1]]
    return [(weight, users[low:high]) for weight, low, high in zip(weights, lows, bounds, strict=True)]
