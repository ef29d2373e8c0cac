"""What mobile apps send to register a device and set preferences, validated with pydantic."""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.domain.records import Platform, QuietHours
from shared.usecases.commands import RegisterDevice, UpdatePreferences

__all__ = [
    "InstallationRequest",
    "PreferencesRequest",
    "QuietHoursRequest",
]

_APNS_TOKEN = re.compile(r"^[0-9a-fA-F]{64,200}$")
_FCM_TOKEN = re.compile(r"^[A-Za-z0-9_:\-]{20,4096}$")
_WNS_HOST_SUFFIX = ".notify.windows.com"
_INTEREST = Annotated[str, Field(min_length=1, max_length=40)]


class InstallationRequest(BaseModel):
    """PUT /api/installations/{installationId}. Tags are never accepted: the server assigns them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    platform: str
    push_channel: str = Field(alias="pushChannel", min_length=1, max_length=4096)
    language: str | None = Field(default=None, max_length=35)
    interests: list[_INTEREST] | None = Field(default=None, max_length=20)

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        lowered = value.lower()
        if lowered == "gcm":
            raise ValueError("FCM legacy (gcm) is retired; register Android devices with platform 'fcmv1'")
        if lowered not in {p.value for p in Platform}:
            raise ValueError("platform must be one of apns, fcmv1, wns")
        return lowered

    @model_validator(mode="after")
    def _channel_fits_platform(self) -> InstallationRequest:
        channel = self.push_channel
        if self.platform == Platform.APNS and not _APNS_TOKEN.fullmatch(channel):
            raise ValueError("pushChannel: an APNs device token is 64 to 200 hexadecimal characters")
        if self.platform == Platform.FCMV1 and not _FCM_TOKEN.fullmatch(channel):
            raise ValueError("pushChannel: an FCM registration token is 20 to 4096 of A-Z a-z 0-9 _ : -")
        if self.platform == Platform.WNS:
            parts = urlsplit(channel)
            host = (parts.hostname or "").lower()
            if parts.scheme != "https" or not host.endswith(_WNS_HOST_SUFFIX) or parts.username or parts.port:
                raise ValueError("pushChannel: a WNS channel is an https URI on a notify.windows.com host")
        return self

    def to_command(self, installation_id: str) -> RegisterDevice:
        return RegisterDevice(
            installation_id=installation_id,
            platform=Platform(self.platform),
            push_channel=self.push_channel,
            language=self.language,
            interests=tuple(self.interests) if self.interests is not None else None,
        )


class QuietHoursRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: time
    end: time
    time_zone: str = Field(alias="timeZone", min_length=1, max_length=64)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("timeZone must be an IANA time zone such as Europe/Berlin") from exc
        return value


class PreferencesRequest(BaseModel):
    """PUT /api/me/preferences: the whole preference set (omitted fields return to their defaults)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    interests: list[_INTEREST] = Field(default_factory=list, max_length=20)
    language: str | None = Field(default=None, max_length=35)
    quiet_hours: QuietHoursRequest | None = Field(default=None, alias="quietHours")
    debit_threshold: Decimal | None = Field(default=None, alias="debitThreshold", ge=0, le=Decimal("1e12"))

    @field_validator("debit_threshold")
    @classmethod
    def _finite(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not value.is_finite():
            raise ValueError("debitThreshold must be a finite number")
        return value

    def to_command(self) -> UpdatePreferences:
        quiet = self.quiet_hours
        return UpdatePreferences(
            interests=tuple(self.interests),
            language=self.language,
            quiet_hours=QuietHours(quiet.start, quiet.end, quiet.time_zone) if quiet else None,
            debit_threshold=self.debit_threshold,
        )
