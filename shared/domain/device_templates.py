"""The NH installation templates each device gets: an "alert" and a "silent" one per platform, in its language."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal

from shared.domain.errors import FieldError, ValidationError
from shared.domain.languages import SUPPORTED_LANGUAGES
from shared.domain.records import Platform
from shared.notification_hubs.models import InstallationTemplate

__all__ = [
    "BODY_MAX_CHARS",
    "PAYLOAD_LIMITS",
    "TEMPLATE_NAMES",
    "TITLE_MAX_CHARS",
    "TemplateName",
    "collapse_id",
    "templates_for",
]

TemplateName = Literal["alert", "silent"]
TEMPLATE_NAMES: Final[tuple[TemplateName, ...]] = ("alert", "silent")

# Rendered text is clipped on the device side of NH (".(p,n)" adds "..."), so no payload a LoB system can
# provoke outgrows a PNS limit: 80 + 300 characters leave room for JSON escaping and multi-byte text.
TITLE_MAX_CHARS = 80
BODY_MAX_CHARS = 300

# Bytes a PNS accepts for one notification payload (APNs and FCM v1: 4 KB; WNS: 5 KB).
PAYLOAD_LIMITS: Mapping[Platform, int] = MappingProxyType(
    {Platform.APNS: 4096, Platform.FCMV1: 4096, Platform.WNS: 5120}
)


def templates_for(platform: Platform, language: str) -> dict[str, InstallationTemplate]:
    """The "alert" and "silent" templates for a device of ``platform`` that reads ``language``.

    Both use the send properties of CONTRACTS §D: ``title_{language}``, ``body_{language}``, ``eventId``,
    ``eventType``, ``deepLink`` and ``category``; the alert also ``collapseId`` (``collapse_id`` of the event
    key ``source#id``). The silent template carries the localized title and body as data too, so the app can show
    the message quietly (quiet hours). Raises ValidationError for an unsupported language.
    """
    if language not in SUPPORTED_LANGUAGES:
        raise ValidationError(
            f"language {language!r} is not supported",
            [FieldError("language", f"expected one of {', '.join(SUPPORTED_LANGUAGES)}")],
        )
    title = f".(title_{language},{TITLE_MAX_CHARS})"
    body = f".(body_{language},{BODY_MAX_CHARS})"
    platform = Platform(platform)
    if platform is Platform.APNS:
        return _apns(title, body)
    if platform is Platform.FCMV1:
        return _fcmv1(title, body)
    return _wns(title, body)


# If a push is ever sent twice (NH accepted it but the answer was lost, or the process died before the delivery log
# recorded it), the device replaces the first notification with the second instead of showing both: APNs
# apns-collapse-id, FCM android.notification.tag, WNS X-WNS-Tag. All three carry collapse_id(event key source#id).
COLLAPSE_ID = "$(collapseId)"
_COLLAPSE_ID_CHARS = 16


def collapse_id(key: str) -> str:
    """The collapse identifier of the alerts of ``key`` (an event's key ``source#id``, a campaign's id): the first
    16 hex digits of its SHA-256.

    The same for every send of one event, different for different events (64 bits), and within every platform's
    limit whatever the id: WNS takes at most 16 characters (a prefix of the id would make two events with ids like
    ``evt-2026-11-22T10:15:01`` and ``...:02`` replace each other on a Windows device), APNs at most 64 bytes.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:_COLLAPSE_ID_CHARS]


def _event_data() -> dict[str, str]:
    return {
        "eventId": "$(eventId)",
        "notificationId": "$(notificationId)",
        "eventType": "$(eventType)",
        "deepLink": "$(deepLink)",
        "category": "$(category)",
    }


def _json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _apns(title: str, body: str) -> dict[str, InstallationTemplate]:
    alert = {
        "aps": {"alert": {"title": title, "body": body}, "sound": "default", "thread-id": "$(category)"},
        "eventId": "$(eventId)",
        "notificationId": "$(notificationId)",
        "eventType": "$(eventType)",
        "deepLink": "$(deepLink)",
    }
    silent = {"aps": {"content-available": 1}, **_event_data(), "title": title, "body": body}
    return {
        "alert": InstallationTemplate(
            body=_json(alert),
            headers={"apns-push-type": "alert", "apns-priority": "10", "apns-collapse-id": COLLAPSE_ID},
        ),
        "silent": InstallationTemplate(
            body=_json(silent), headers={"apns-push-type": "background", "apns-priority": "5"}
        ),
    }


def _fcmv1(title: str, body: str) -> dict[str, InstallationTemplate]:
    alert = {
        "message": {
            "notification": {"title": title, "body": body},
            "data": _event_data(),
            "android": {"priority": "high", "notification": {"tag": COLLAPSE_ID}},
        }
    }
    silent = {"message": {"data": {**_event_data(), "title": title, "body": body}, "android": {"priority": "normal"}}}
    return {"alert": InstallationTemplate(body=_json(alert)), "silent": InstallationTemplate(body=_json(silent))}


def _wns(title: str, body: str) -> dict[str, InstallationTemplate]:
    # Expressions are XML attribute values and element text here; NH XML-escapes what it substitutes.
    toast = (
        '<toast launch="$(deepLink)"><visual><binding template="ToastGeneric">'
        f"<text>{title}</text><text>{body}</text>"
        "</binding></visual></toast>"
    )
    # A raw push is opaque bytes to WNS, but NH (and our client's validator) take WNS template bodies as XML
    # only, so the raw payload is a small XML document the app reads: the event keys as attributes.
    raw = (
        '<event eventId="$(eventId)" notificationId="$(notificationId)" eventType="$(eventType)" '
        'deepLink="$(deepLink)" category="$(category)">'
        f"<title>{title}</title><body>{body}</body>"
        "</event>"
    )
    return {
        "alert": InstallationTemplate(body=toast, headers={"X-WNS-Type": "wns/toast", "X-WNS-Tag": COLLAPSE_ID}),
        "silent": InstallationTemplate(body=raw, headers={"X-WNS-Type": "wns/raw"}),
    }
