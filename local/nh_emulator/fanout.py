"""Fan-out: which registrations a send reaches, what each device receives, and what telemetry records."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from local.nh_emulator.installations import Installation, native_tags, template_format, template_tags
from local.nh_emulator.notifications import PLATFORM_FORMATS, SendRequest
from local.nh_emulator.state import Delivery, EmulatorState, NotificationRecord, RegistrationResult
from shared.notification_hubs.errors import NhValidationError
from shared.notification_hubs.expressions import BodyFormat
from shared.notification_hubs.rendering import render_template
from shared.notification_hubs.tag_matching import matches

__all__ = [
    "DEAD_CHANNEL_OUTCOMES",
    "DEAD_CHANNEL_PREFIX",
    "PNS_PAYLOAD_LIMITS",
    "Target",
    "deliver",
    "direct_targets",
    "select_targets",
]

logger = logging.getLogger(__name__)

DEAD_CHANNEL_PREFIX = "expired-"
PNS_PAYLOAD_LIMITS = {
    "apns": 4096,
    "fcmv1": 4096,
    "gcm": 4096,
    "wns": 5 * 1024,
    "mpns": 1024,
    "adm": 6 * 1024,
    "baidu": 4096,
    "browser": 4096,
    "xiaomi": 4096,
}
SUCCESS = ("Success", "The Notification was successfully sent to the Push Notification System")
EXPIRED = ("ExpiredChannel", "The Push Notification System handle for the registration is invalid")
TOO_LARGE = ("InvalidNotificationSize", "The notification payload is too large for the Push Notification System")
BAD_PAYLOAD = ("InvalidPayload", "The notification payload could not be rendered")
# What NH's telemetry reports for a channel the PNS refuses; each marks the installation pushChannelExpired.
DEAD_CHANNEL_OUTCOMES = {
    EXPIRED[0]: EXPIRED[1],
    "BadChannel": "The Push Notification System reports the channel as not valid",
    "WrongToken": "The Push Notification System handle is not a token it issued",
    "UnknownError": "The Push Notification System reported an unknown error",  # what NH shows for dead FCM v1 tokens
}


@dataclass(frozen=True)
class Target:
    """One registration a send reaches: an installation's native or template registration, or a bare handle."""

    installation: Installation | None
    template_name: str | None
    platform: str
    push_channel: str

    @property
    def registration_id(self) -> str:
        """A stable id in NH's shape (``{n}-{n}-{k}``) derived from installation and template."""
        key = f"{self.installation['installationId'] if self.installation else self.push_channel}"
        digest = hashlib.sha256(key.encode()).hexdigest()
        suffix = int(hashlib.sha256((self.template_name or "").encode()).hexdigest()[:4], 16)
        return f"{int(digest[:15], 16)}-{int(digest[15:30], 16)}-{suffix}"


def select_targets(installations: Iterable[Installation], send: SendRequest, *, case_sensitive: bool) -> list[Target]:
    """Registrations matching the send: native ones of the send's platform, or every matching template."""
    targets: list[Target] = []
    for installation in installations:
        if installation.get("pushChannelExpired"):
            continue  # NH stops sending to handles the PNS reported dead
        platform, channel = installation["platform"], installation["pushChannel"]
        if send.platform is not None:
            if platform == send.platform and _matches(send, native_tags(installation), case_sensitive):
                targets.append(Target(installation, None, platform, channel))
            continue
        for name in installation.get("templates", {}):
            if _matches(send, template_tags(installation, name), case_sensitive):
                targets.append(Target(installation, name, platform, channel))
    return targets


def _matches(send: SendRequest, tags: Sequence[str], case_sensitive: bool) -> bool:
    return send.expression is None or matches(send.expression, tags, case_sensitive=case_sensitive)


def direct_targets(installations: Iterable[Installation], handles: Iterable[str], platform: str) -> list[Target]:
    """One target per handle; attributed to the installation holding that handle, if any."""
    by_channel = {i["pushChannel"]: i for i in installations if i["platform"] == platform}
    return [Target(by_channel.get(handle), None, platform, handle) for handle in handles]


def _render_value(value: str, properties: dict[str, str]) -> str:
    rendered: Any = json.loads(render_template(json.dumps({"v": value}), BodyFormat.JSON, properties))["v"]
    return rendered if isinstance(rendered, str) else json.dumps(rendered)


def _apns_expiration(value: str) -> str:
    try:
        return str(int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()))
    except ValueError:
        return value


def _render(target: Target, send: SendRequest) -> tuple[dict[str, str], str]:
    """Headers and payload the PNS gets for ``target``."""
    if target.template_name is None or target.installation is None:
        return dict(send.pns_headers), send.body
    template = target.installation["templates"][target.template_name]
    payload = render_template(template["body"], template_format(target.platform), send.properties)
    headers = {name: _render_value(value, send.properties) for name, value in template.get("headers", {}).items()}
    if "expiry" in template:
        headers["apns-expiration"] = _apns_expiration(_render_value(template["expiry"], send.properties))
    return headers, payload


def _attempt(target: Target, send: SendRequest, dead: str | None) -> tuple[tuple[str, str], dict[str, str], str]:
    if dead is not None:
        return (dead, DEAD_CHANNEL_OUTCOMES[dead]), {}, ""
    if target.push_channel.startswith(DEAD_CHANNEL_PREFIX):
        return EXPIRED, {}, ""
    try:
        headers, payload = _render(target, send)
    except NhValidationError:
        logger.warning("Template %s of %s could not be rendered", target.template_name, target.registration_id)
        return BAD_PAYLOAD, {}, ""
    if len(payload.encode("utf-8")) > PNS_PAYLOAD_LIMITS.get(target.platform, 4096):
        return TOO_LARGE, headers, payload
    return SUCCESS, headers, payload


def deliver(
    state: EmulatorState, record: NotificationRecord, targets: Sequence[Target], send: SendRequest, now: float
) -> None:
    """Push to every target: record a Delivery for each success, count outcomes, expire dead channels."""
    record.start_time = now
    for target in targets:
        dead = state.dead_channels.get(target.push_channel)
        (outcome, description), headers, payload = _attempt(target, send, dead)
        record.count(target.platform, outcome)
        record.results.append(
            RegistrationResult(
                PLATFORM_FORMATS.get(target.platform, target.platform),
                target.push_channel,
                target.registration_id,
                description,
            )
        )
        if outcome in DEAD_CHANNEL_OUTCOMES and target.installation is not None:
            state.mark_channel_expired(target.installation["installationId"])
        if outcome != SUCCESS[0]:
            continue
        state.deliveries.append(
            Delivery(
                notification_id=record.notification_id,
                installation_id=target.installation["installationId"] if target.installation else None,
                template_name=target.template_name,
                platform=target.platform,
                push_channel=target.push_channel,
                headers=headers,
                payload=payload,
                received_at=now,
            )
        )
    record.end_time = now
    record.state = "Completed" if targets else "NoTargetFound"
