"""What each simulated phone shows: the pushes it received, after the platform's collapse rules.

A push service hands a device every notification it accepts, but the device does not show every one as a new
notification. A later alert with the same collapse identifier replaces the earlier one in the notification
centre instead of appearing beside it:

- APNs: the ``apns-collapse-id`` request header (at most 64 bytes).
- FCM v1 on Android: ``message.android.notification.tag``. (``android.collapse_key`` only decides which message a
  device that was offline gets when it comes back; these phones are always online, so it changes nothing shown.)
- WNS: the ``X-WNS-Tag`` header, within its ``X-WNS-Group`` (a toast with the same tag and group replaces the
  earlier one).

Only alerts are shown: an APNs background push, an FCM data-only message and a WNS raw push reach the app, not
the screen. So "received twice" (the push service delivered a notification twice) and "seen twice" (a person sees
two notifications for one event) differ exactly by the collapse identifiers the sender chose.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from local.nh_emulator.state import Delivery

__all__ = ["Shown", "collapse_key", "delivery_from_json", "is_alert", "notification_centre"]


@dataclass(frozen=True)
class Shown:
    """One notification on a device's screen: the push that put it there, and how many it replaced."""

    delivery: Delivery
    collapse_id: str | None
    replaced: int

    def to_json(self) -> dict[str, Any]:
        """The /_emulator/devices JSON shape: the delivery's fields plus ``collapseId`` and ``replaced``."""
        return {**self.delivery.to_json(), "collapseId": self.collapse_id, "replaced": self.replaced}


def delivery_from_json(data: Mapping[str, Any]) -> Delivery:
    """A Delivery back from its /_emulator/ JSON shape (for callers judging pushes they fetched)."""
    return Delivery(
        notification_id=str(data["notificationId"]),
        installation_id=data.get("installationId"),
        template_name=data.get("templateName"),
        platform=str(data["platform"]),
        push_channel=str(data["pushChannel"]),
        headers=dict(data.get("headers") or {}),
        payload=str(data.get("payload") or ""),
        received_at=float(data.get("receivedAt") or 0.0),
    )


def _json_payload(delivery: Delivery) -> Mapping[str, Any]:
    try:
        parsed = json.loads(delivery.payload)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _header(delivery: Delivery, name: str) -> str | None:
    for key, value in delivery.headers.items():
        if key.lower() == name:
            return value
    return None


def _path(document: Mapping[str, Any], *keys: str) -> Any:
    found: Any = document
    for key in keys:
        if not isinstance(found, Mapping):
            return None
        found = found.get(key)
    return found


def is_alert(delivery: Delivery) -> bool:
    """True when the push puts a notification on the screen (not a background, data-only or raw push)."""
    if delivery.platform == "apns":
        if (_header(delivery, "apns-push-type") or "alert") == "background":
            return False
        return _path(_json_payload(delivery), "aps", "alert") not in (None, "", {})
    if delivery.platform in ("fcmv1", "gcm"):
        return isinstance(_path(_json_payload(delivery), "message", "notification"), Mapping)
    if delivery.platform == "wns":
        return (_header(delivery, "x-wns-type") or "") == "wns/toast"
    return True


def collapse_key(delivery: Delivery) -> str | None:
    """The identifier under which a later alert replaces this one on the device; None when it collapses nothing.

    A blank identifier is no identifier: the device shows such a notification beside the others.
    """
    key: Any = None
    if delivery.platform == "apns":
        key = _header(delivery, "apns-collapse-id")
    elif delivery.platform in ("fcmv1", "gcm"):
        key = _path(_json_payload(delivery), "message", "android", "notification", "tag")
    elif delivery.platform == "wns":
        key = _header(delivery, "x-wns-tag")
        if isinstance(key, str) and key.strip():
            return f"{_header(delivery, 'x-wns-group') or ''}/{key}"
    return key if isinstance(key, str) and key.strip() else None


def notification_centre(deliveries: Iterable[Delivery]) -> list[Shown]:
    """What one device shows after ``deliveries`` (oldest first): its alerts, a later one with the same collapse
    identifier taking the earlier one's place. Oldest first; a replacement counts as new."""
    shown: list[Shown] = []
    for delivery in deliveries:
        if not is_alert(delivery):
            continue
        key = collapse_key(delivery)
        replaced = 0
        if key is not None:
            kept = [entry for entry in shown if entry.collapse_id != key]
            replaced = len(shown) - len(kept)
            shown = kept
        shown.append(Shown(delivery, key, replaced))
    return shown
