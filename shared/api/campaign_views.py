"""How campaigns, their waves and NH's outcomes look in the API's JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from shared.domain.audience import AudienceCounts
from shared.domain.campaigns import Campaign, CampaignSend, SendState, WaveSummary
from shared.domain.languages import DEFAULT_LANGUAGE
from shared.domain.secure_content import SecureItem
from shared.usecases.campaigns import CampaignView

__all__ = ["audience_view", "campaign_summary", "campaign_view", "inbox_item_view"]

_DURATION = TypeAdapter(timedelta)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def audience_view(expression: str, counts: AudienceCounts) -> dict[str, Any]:
    return {
        "expression": expression,
        "installations": counts.installations,
        "users": counts.users,
        "byPlatform": counts.by_platform,
        "byLanguage": counts.by_language,
    }


def campaign_summary(campaign: Campaign, state: str | None = None) -> dict[str, Any]:
    """The fields a listing shows (``state`` as of now when known, else as the worker last recorded it)."""
    counts = campaign.audience_counts
    return {
        "id": campaign.id,
        "state": state or campaign.state.value,
        "createdAt": _iso(campaign.created_at),
        "createdBy": campaign.created_by,
        "audience": (
            {"expression": campaign.audience.expression}
            if campaign.audience.expression is not None
            else {"users": list(campaign.audience.users)}
        ),
        "title": campaign.content.titles.get(campaign.content.default_language),
        "sendAt": _iso(campaign.send_at),
        "audienceSize": counts.installations if counts else None,
        "cancelledAt": _iso(campaign.cancelled_at),
    }


def campaign_view(view: CampaignView, now: datetime) -> dict[str, Any]:
    """Everything about one campaign: the request, the audience at send time, and per wave NH's ids and outcomes."""
    campaign, content, counts = view.campaign, view.campaign.content, view.campaign.audience_counts
    waves = [
        _wave_view(wave, [s for s in view.sends if s.wave == wave.index], campaign, now) for wave in campaign.waves
    ]
    return {
        **campaign_summary(campaign, view.state.value),
        "title": dict(content.titles),
        "body": dict(content.bodies),
        "defaultLanguage": content.default_language,
        "deepLink": content.deep_link,
        "silent": content.template == "silent",
        "sensitive": content.sensitive,
        "localTime": (
            {"localTime": campaign.local_time.at.isoformat(), "fallbackTimeZone": campaign.local_time.fallback_zone}
            if campaign.local_time
            else None
        ),
        "wavePolicy": (
            {
                "weights": list(campaign.wave_policy.weights),
                "pause": _DURATION.dump_python(campaign.wave_policy.pause, mode="json"),
            }
            if campaign.wave_policy
            else None
        ),
        "audienceUsers": counts.users if counts else None,
        "audienceByPlatform": counts.by_platform if counts else None,
        "audienceByLanguage": counts.by_language if counts else None,
        "waves": waves,
        "outcomes": _total(wave["outcomes"] for wave in waves),
        "removedInstallations": sum(wave["removedInstallations"] for wave in waves),
        "cancelledBy": campaign.cancelled_by,
    }


def _wave_view(wave: WaveSummary, sends: list[CampaignSend], campaign: Campaign, now: datetime) -> dict[str, Any]:
    return {
        "wave": wave.index,
        "due": _iso(wave.due),
        "weight": wave.weight,
        "timeZone": wave.time_zone,
        "installations": wave.installations,
        "users": wave.users,
        "state": _wave_state(sends, campaign, wave, now),
        "notifications": [
            {
                "id": send.notification_id,
                "scheduled": send.state is SendState.SCHEDULED,
                "state": "sent" if send.gone_out(now) else send.state.value,
                "telemetry": send.telemetry_state,
                "outcomes": send.outcomes,
            }
            for send in sends
            if send.notification_id is not None
        ],
        "outcomes": _total(send.outcomes for send in sends),
        "failedSends": sum(1 for send in sends if send.state is SendState.FAILED),
        "cancelledSends": sum(1 for send in sends if send.state is SendState.CANCELLED),
        "removedInstallations": sum(len(send.removed) for send in sends),
    }


def _wave_state(sends: list[CampaignSend], campaign: Campaign, wave: WaveSummary, now: datetime) -> str:
    if not sends:
        if campaign.cancelled_at is not None and campaign.cancelled_at < wave.due:
            return "cancelled"
        return "sent" if wave.due <= now else "pending"
    states = {send.state for send in sends}
    if states == {SendState.CANCELLED}:
        return "cancelled"
    if states & {SendState.PLANNED, SendState.CLAIMED}:
        return "pending"
    if any(send.state is SendState.SCHEDULED and send.due > now for send in sends):
        return "scheduled"
    if states == {SendState.FAILED}:
        return "failed"
    return "sent"


def _total(counts: Iterable[Mapping[str, Mapping[str, int]]]) -> dict[str, dict[str, int]]:
    total: dict[str, dict[str, int]] = {}
    for by_platform in counts:
        for platform, outcomes in by_platform.items():
            for outcome, count in outcomes.items():
                per_platform = total.setdefault(platform, {})
                per_platform[outcome] = per_platform.get(outcome, 0) + count
    return total


def inbox_item_view(item: SecureItem, language: str) -> dict[str, Any]:
    title, body = item.text(language, DEFAULT_LANGUAGE)
    return {
        "id": item.notification_id,
        "title": title,
        "body": body,
        "language": language if language in item.titles else DEFAULT_LANGUAGE,
        "deepLink": item.deep_link,
        "eventType": item.event_type,
        "source": item.source,
        "createdAt": _iso(item.created_at),
    }
