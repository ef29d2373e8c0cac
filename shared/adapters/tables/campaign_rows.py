"""Campaign and campaign-send rows: how the records map onto Tables entities.

A campaign is one row (partition ``campaign``, row = id) with the fields the worker queries on as properties
(``State``, ``NextCheck``, ``CreatedAt``) and the rest as a JSON document split over ``Document0``, ``Document1``...
(a string property holds at most 32 Ki characters; a list of 1,000 user ids can be longer). A send is one row
(partition = campaign id, row = send key) with plain properties.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from azure.data.tables import TableEntity

from shared.adapters.tables.common import as_datetime, decode_key, encode_key, optional_datetime, utc
from shared.domain.audience import Audience, AudienceCounts
from shared.domain.campaigns import (
    Campaign,
    CampaignContent,
    CampaignSend,
    CampaignState,
    LocalTime,
    Recipient,
    SendState,
    WavePolicy,
    WaveSummary,
)
from shared.domain.records import Platform

__all__ = ["CAMPAIGN_PARTITION", "campaign_entity", "campaign_from_entity", "send_entity", "send_from_entity"]

CAMPAIGN_PARTITION = "campaign"
_CHUNK_CHARS = 30_000


def _iso(value: datetime | None) -> str | None:
    return utc(value).isoformat() if value is not None else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def campaign_entity(campaign: Campaign) -> dict[str, Any]:
    content = campaign.content
    document = {
        "createdBy": campaign.created_by,
        "fingerprint": campaign.fingerprint,
        "audience": {"expression": campaign.audience.expression, "users": list(campaign.audience.users)},
        "content": {
            "titles": dict(content.titles),
            "bodies": dict(content.bodies),
            "defaultLanguage": content.default_language,
            "deepLink": content.deep_link,
            "template": content.template,
            "sensitive": content.sensitive,
        },
        "sendAt": _iso(campaign.send_at),
        "localTime": (
            {"at": campaign.local_time.at.isoformat(), "fallbackZone": campaign.local_time.fallback_zone}
            if campaign.local_time
            else None
        ),
        "wavePolicy": (
            {"weights": list(campaign.wave_policy.weights), "pause": campaign.wave_policy.pause.total_seconds()}
            if campaign.wave_policy
            else None
        ),
        "planAt": _iso(campaign.plan_at),
        "planVersion": campaign.plan_version,
        "waves": [
            {
                "index": w.index,
                "due": _iso(w.due),
                "weight": w.weight,
                "timeZone": w.time_zone,
                "installations": w.installations,
                "users": w.users,
            }
            for w in campaign.waves
        ],
        "audienceCounts": asdict(campaign.audience_counts) if campaign.audience_counts else None,
        "cancelledAt": _iso(campaign.cancelled_at),
        "cancelledBy": campaign.cancelled_by,
    }
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    chunks = [text[i : i + _CHUNK_CHARS] for i in range(0, len(text), _CHUNK_CHARS)]
    entity: dict[str, Any] = {
        "PartitionKey": CAMPAIGN_PARTITION,
        "RowKey": encode_key(campaign.id),
        "State": campaign.state.value,
        "CreatedAt": utc(campaign.created_at),
        "DocumentParts": len(chunks),
    }
    entity.update({f"Document{index}": chunk for index, chunk in enumerate(chunks)})
    if campaign.next_check is not None:
        entity["NextCheck"] = utc(campaign.next_check)
    return entity


def campaign_from_entity(entity: TableEntity, etag: str | None) -> Campaign:
    text = "".join(entity[f"Document{index}"] for index in range(int(entity["DocumentParts"])))
    document = json.loads(text)
    content, audience = document["content"], document["audience"]
    local, policy, counts = document["localTime"], document["wavePolicy"], document["audienceCounts"]
    return Campaign(
        id=decode_key(entity["RowKey"]),
        created_by=document["createdBy"],
        created_at=as_datetime(entity["CreatedAt"]),
        fingerprint=document["fingerprint"],
        audience=Audience(expression=audience["expression"], users=tuple(audience["users"])),
        content=CampaignContent(
            titles=content["titles"],
            bodies=content["bodies"],
            default_language=content["defaultLanguage"],
            deep_link=content["deepLink"],
            template=content["template"],
            sensitive=content["sensitive"],
        ),
        send_at=_time(document["sendAt"]),
        local_time=LocalTime(datetime.fromisoformat(local["at"]), local["fallbackZone"]) if local else None,
        wave_policy=_wave_policy(policy) if policy else None,
        plan_at=datetime.fromisoformat(document["planAt"]),
        next_check=optional_datetime(entity.get("NextCheck")),
        state=CampaignState(entity["State"]),
        plan_version=document["planVersion"],
        waves=tuple(
            WaveSummary(
                w["index"],
                datetime.fromisoformat(w["due"]),
                w.get("weight", w.get("percent")),
                w["timeZone"],
                w["installations"],
                w["users"],
            )
            for w in document["waves"]
        ),
        audience_counts=AudienceCounts(**counts) if counts else None,
        cancelled_at=_time(document["cancelledAt"]),
        cancelled_by=document["cancelledBy"],
        etag=etag,
    )


def send_entity(send: CampaignSend) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": encode_key(send.campaign_id),
        "RowKey": send.key,
        "PlanVersion": send.plan_version,
        "Wave": send.wave,
        "Due": utc(send.due),
        "Recipients": json.dumps(
            [[r.user_id, r.installation_id, r.platform.value, r.language] for r in send.recipients],
            ensure_ascii=False,
        ),
        "State": send.state.value,
        "Attempt": send.attempt,
        "Outcomes": json.dumps(send.outcomes),
        "TelemetryFinal": send.telemetry_final,
        "Removed": json.dumps(list(send.removed)),
    }
    optional = {
        "ClaimedAt": utc(send.claimed_at) if send.claimed_at else None,
        "HandedOffAt": utc(send.handed_off_at) if send.handed_off_at else None,
        "NotificationId": send.notification_id,
        "TelemetryState": send.telemetry_state,
        "Detail": send.detail,
    }
    entity.update({name: value for name, value in optional.items() if value is not None})
    return entity


def send_from_entity(entity: TableEntity, etag: str | None) -> CampaignSend:
    return CampaignSend(
        campaign_id=decode_key(entity["PartitionKey"]),
        key=entity["RowKey"],
        plan_version=int(entity["PlanVersion"]),
        wave=int(entity["Wave"]),
        due=as_datetime(entity["Due"]),
        recipients=tuple(
            Recipient(user_id, installation_id, Platform(platform), language)
            for user_id, installation_id, platform, language in json.loads(entity["Recipients"])
        ),
        state=SendState(entity["State"]),
        attempt=int(entity["Attempt"]),
        claimed_at=optional_datetime(entity.get("ClaimedAt")),
        notification_id=entity.get("NotificationId"),
        handed_off_at=optional_datetime(entity.get("HandedOffAt")),
        telemetry_state=entity.get("TelemetryState"),
        outcomes=json.loads(entity["Outcomes"]),
        telemetry_final=bool(entity["TelemetryFinal"]),
        removed=tuple(json.loads(entity["Removed"])),
        detail=entity.get("Detail"),
        etag=etag,
    )


def _wave_policy(stored: dict[str, Any]) -> WavePolicy:
    # Rows written before waves had weights hold "percents" (weights that sum to 100: the same split).
    return WavePolicy(tuple(stored.get("weights") or stored["percents"]), timedelta(seconds=stored["pause"]))
