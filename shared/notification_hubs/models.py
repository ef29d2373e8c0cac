"""Records the Notification Hubs client sends and returns: installations, patches, notifications, send results."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.notification_hubs.errors import NhValidationError

__all__ = [
    "Installation",
    "InstallationTemplate",
    "NhResponse",
    "Notification",
    "NotificationDetails",
    "NotificationOutcome",
    "PatchOperation",
    "RegistrationResult",
    "ScheduledSendResult",
    "SendResult",
    "apple_notification",
    "fcmv1_notification",
    "template_notification",
    "windows_notification",
]

JSON_CONTENT_TYPE = "application/json;charset=utf-8"
WNS_TYPES = frozenset({"wns/toast", "wns/tile", "wns/badge", "wns/raw"})


@dataclass
class InstallationTemplate:
    """One template of an installation; NH adds the template name to ``tags`` itself."""

    body: str
    headers: dict[str, str] = field(default_factory=dict)
    expiry: str | None = None
    tags: list[str] = field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"body": self.body}
        if self.headers:
            wire["headers"] = dict(self.headers)
        if self.expiry is not None:
            wire["expiry"] = self.expiry
        if self.tags:
            wire["tags"] = list(self.tags)
        return wire

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> InstallationTemplate:
        """Read a template object; raises NhValidationError when it has the wrong shape."""
        return cls(
            body=_string(wire, "body", required=True) or "",
            headers=_string_map(wire, "headers"),
            expiry=_string(wire, "expiry"),
            tags=_string_list(wire, "tags"),
        )


@dataclass
class Installation:
    """A device as NH stores it. ``push_channel_expired`` and ``expiration_time`` are read-only (NH sets them)."""

    installation_id: str
    platform: str
    push_channel: str
    user_id: str | None = None
    tags: list[str] = field(default_factory=list)
    templates: dict[str, InstallationTemplate] = field(default_factory=dict)
    push_variables: dict[str, str] = field(default_factory=dict)
    push_channel_expired: bool | None = None
    expiration_time: str | None = None

    def to_wire(self, *, include_read_only: bool = False) -> dict[str, Any]:
        """The installation JSON; unset optional fields are left out (NH treats absent and empty alike)."""
        wire: dict[str, Any] = {
            "installationId": self.installation_id,
            "platform": self.platform,
            "pushChannel": self.push_channel,
        }
        if self.user_id is not None:
            wire["userId"] = self.user_id
        if self.tags:
            wire["tags"] = list(self.tags)
        if self.templates:
            wire["templates"] = {name: template.to_wire() for name, template in self.templates.items()}
        if self.push_variables:
            wire["pushVariables"] = dict(self.push_variables)
        if include_read_only:
            if self.push_channel_expired is not None:
                wire["pushChannelExpired"] = self.push_channel_expired
            if self.expiration_time is not None:
                wire["expirationTime"] = self.expiration_time
        return wire

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Installation:
        """Read installation JSON as NH returns it; raises NhValidationError when it has the wrong shape."""
        channel = wire.get("pushChannel")
        if isinstance(channel, Mapping):
            # Browser installations: JS sends an object, .NET and Java a JSON string; keep the string form.
            channel = json.dumps(channel, separators=(",", ":"))
        templates_wire = wire.get("templates") or {}
        if not isinstance(templates_wire, Mapping):
            raise NhValidationError("installation.templates must be an object")
        expired = wire.get("pushChannelExpired")
        if expired is not None and not isinstance(expired, bool):
            raise NhValidationError("installation.pushChannelExpired must be a boolean")
        return cls(
            installation_id=_string(wire, "installationId", required=True) or "",
            platform=_string(wire, "platform", required=True) or "",
            push_channel=_string({"pushChannel": channel}, "pushChannel", required=True) or "",
            user_id=_string(wire, "userId"),
            tags=_string_list(wire, "tags"),
            templates={
                str(name): InstallationTemplate.from_wire(_object(t, name)) for name, t in templates_wire.items()
            },
            push_variables=_string_map(wire, "pushVariables"),
            push_channel_expired=expired,
            expiration_time=_string(wire, "expirationTime"),
        )


@dataclass(frozen=True)
class PatchOperation:
    """One JSON-Patch operation of an installation update; ``value`` is always a string on the wire."""

    op: Literal["add", "remove", "replace"]
    path: str
    value: str | None = None

    def to_wire(self) -> dict[str, str]:
        wire = {"op": self.op, "path": self.path}
        if self.value is not None:
            wire["value"] = self.value
        return wire


@dataclass(frozen=True)
class Notification:
    """What a send posts: the ServiceBusNotification-Format, the body, its content type and PNS headers."""

    format: str
    body: str
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


def template_notification(properties: Mapping[str, str]) -> Notification:
    """A template send: a flat JSON object of string properties. Raises NhValidationError on non-string values."""
    for name, value in properties.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise NhValidationError(f"template property {name!r} must map a string to a string")
    return Notification("template", _dumps(dict(properties)), JSON_CONTENT_TYPE)


def apple_notification(payload: Mapping[str, Any] | str, headers: Mapping[str, str] | None = None) -> Notification:
    """A native APNs send; ``headers`` (apns-push-type, apns-priority, ...) are passed through to APNs."""
    body = payload if isinstance(payload, str) else _dumps(payload)
    return Notification("apple", body, JSON_CONTENT_TYPE, dict(headers or {}))


def fcmv1_notification(message: Mapping[str, Any]) -> Notification:
    """A native FCM v1 send; wraps ``message`` in {"message": ...} unless it is already wrapped."""
    envelope = message if set(message) == {"message"} else {"message": message}
    return Notification("fcmv1", _dumps(envelope), JSON_CONTENT_TYPE)


def windows_notification(xml: str, wns_type: str = "wns/toast") -> Notification:
    """A native WNS send; ``wns/raw`` goes as application/octet-stream. Raises NhValidationError on unknown types."""
    if wns_type not in WNS_TYPES:
        raise NhValidationError(f"X-WNS-Type must be one of {sorted(WNS_TYPES)}, not {wns_type!r}")
    content_type = "application/octet-stream" if wns_type == "wns/raw" else "application/xml"
    return Notification("windows", xml, content_type, {"X-WNS-Type": wns_type})


@dataclass(frozen=True)
class NhResponse:
    """What every successful NH call reports: its TrackingId, correlation id and Location header."""

    tracking_id: str | None
    correlation_id: str | None
    location: str | None


@dataclass(frozen=True)
class SendResult(NhResponse):
    """An accepted send; ``notification_id`` (from Location) is only present on Standard-tier hubs."""

    notification_id: str | None = None


@dataclass(frozen=True)
class ScheduledSendResult(NhResponse):
    """An accepted scheduled send; ``scheduled_id`` cancels it."""

    scheduled_id: str | None = None


@dataclass(frozen=True)
class RegistrationResult:
    """One device a test send reached, and what the PNS said."""

    application_platform: str | None
    pns_handle: str | None
    registration_id: str | None
    outcome: str | None


@dataclass(frozen=True)
class NotificationOutcome:
    """The result of a test (debug) send."""

    success: int
    failure: int
    results: list[RegistrationResult]


@dataclass(frozen=True)
class NotificationDetails:
    """Per-message telemetry; ``outcome_counts`` maps platform ("apns", "fcmv1", ...) to outcome name -> count."""

    notification_id: str | None
    location: str | None
    state: str | None
    enqueue_time: str | None
    start_time: str | None
    end_time: str | None
    body: str | None
    tags: str | None
    target_platforms: str | None
    outcome_counts: dict[str, dict[str, int]]
    pns_error_details_uri: str | None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise NhValidationError(f"{where} must be an object")
    return value


def _string(wire: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = wire.get(key)
    if value is None:
        if required:
            raise NhValidationError(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise NhValidationError(f"{key} must be a string")
    return value


def _string_list(wire: Mapping[str, Any], key: str) -> list[str]:
    value = wire.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise NhValidationError(f"{key} must be a list of strings")
    return list(value)


def _string_map(wire: Mapping[str, Any], key: str) -> dict[str, str]:
    value = wire.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise NhValidationError(f"{key} must map strings to strings")
    return {str(k): v for k, v in value.items()}
