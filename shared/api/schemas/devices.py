"""What mobile apps send to register a device and set preferences: the pydantic models that validate the bodies
and that the OpenAPI document is generated from. Tags are never accepted: the server assigns them."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, WithJsonSchema

from shared.api.schemas.wire import (
    APNS_TOKEN_PATTERN,
    FCM_TOKEN_PATTERN,
    WNS_CHANNEL_PATTERN,
    ClockTime,
    Interest,
    LanguageTag,
    TimeZoneName,
)
from shared.domain.catalog.wire_types import Matches, amount_schema, amount_validator
from shared.domain.records import Platform, QuietHours
from shared.usecases.commands import RegisterDevice, UpdatePreferences

__all__ = [
    "ApnsInstallationRequest",
    "FcmInstallationRequest",
    "InstallationRequest",
    "PreferencesRequest",
    "QuietHoursRequest",
    "WnsInstallationRequest",
]

MAX_INTERESTS = 20
MAX_DEBIT_THRESHOLD_DIGITS = 12  # below one trillion


class _Installation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    language: LanguageTag | None = Field(
        default=None, description="BCP 47 tag of the device language; notifications use en, de or es"
    )
    interests: list[Interest] | None = Field(
        default=None,
        max_length=MAX_INTERESTS,
        description="topics to follow; omitted keeps the saved preferences (or none)",
    )


class ApnsInstallationRequest(_Installation):
    """An iPhone or iPad: the APNs device token in hexadecimal."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"platform": "apns", "pushChannel": "a1" * 32, "language": "de-DE", "interests": ["hr"]}]
        }
    )

    platform: Literal["apns"]
    push_channel: Annotated[
        str, Matches(APNS_TOKEN_PATTERN, "an APNs device token is 64 to 200 hexadecimal characters")
    ] = Field(alias="pushChannel")


class FcmInstallationRequest(_Installation):
    """An Android device: the FCM v1 registration token (FCM legacy, "gcm", is retired)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"platform": "fcmv1", "pushChannel": "fcm_" + "Z" * 40, "language": "es"}]}
    )

    platform: Literal["fcmv1"]
    push_channel: Annotated[
        str, Matches(FCM_TOKEN_PATTERN, "an FCM registration token is 20 to 4096 of A-Z a-z 0-9 _ : -")
    ] = Field(alias="pushChannel")


class WnsInstallationRequest(_Installation):
    """A Windows device: the WNS channel URI."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"platform": "wns", "pushChannel": "https://db5p.notify.windows.com/?token=A"}]}
    )

    platform: Literal["wns"]
    push_channel: Annotated[
        str, Matches(WNS_CHANNEL_PATTERN, "a WNS channel is an https URI on a notify.windows.com host")
    ] = Field(alias="pushChannel", max_length=4096)


class InstallationRequest(
    RootModel[
        Annotated[
            ApnsInstallationRequest | FcmInstallationRequest | WnsInstallationRequest,
            Field(discriminator="platform"),
        ]
    ]
):
    """PUT /api/installations/{installationId}: one body per platform, told apart by ``platform``."""

    discriminator: ClassVar[str] = "platform"

    def to_command(self, installation_id: str) -> RegisterDevice:
        body = self.root
        return RegisterDevice(
            installation_id=installation_id,
            platform=Platform(body.platform),
            push_channel=body.push_channel,
            language=body.language,
            interests=tuple(body.interests) if body.interests is not None else None,
        )


class QuietHoursRequest(BaseModel):
    """A daily window on the user's local clock; start after end spans midnight, start equal to end is none."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: ClockTime
    end: ClockTime
    time_zone: TimeZoneName = Field(alias="timeZone")

    def to_record(self) -> QuietHours:
        return QuietHours(time.fromisoformat(self.start), time.fromisoformat(self.end), self.time_zone)


DebitThreshold = Annotated[
    Decimal,
    amount_validator(integer_digits=MAX_DEBIT_THRESHOLD_DIGITS, positive=False),
    WithJsonSchema(
        amount_schema(
            MAX_DEBIT_THRESHOLD_DIGITS,
            positive=False,
            description="debits at or above this amount are pushed: a JSON number or a decimal string",
        )
    ),
]


class PreferencesRequest(BaseModel):
    """PUT /api/me/preferences: the whole preference set (omitted fields return to their defaults)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "interests": ["hr", "finance"],
                    "language": "de",
                    "quietHours": {"start": "22:00", "end": "07:00", "timeZone": "Europe/Berlin"},
                    "debitThreshold": "250.00",
                }
            ]
        },
    )

    interests: list[Interest] = Field(default_factory=list, max_length=MAX_INTERESTS)
    language: LanguageTag | None = None
    quiet_hours: QuietHoursRequest | None = Field(default=None, alias="quietHours")
    debit_threshold: DebitThreshold | None = Field(default=None, alias="debitThreshold")

    def to_command(self) -> UpdatePreferences:
        return UpdatePreferences(
            interests=tuple(self.interests),
            language=self.language,
            quiet_hours=self.quiet_hours.to_record() if self.quiet_hours else None,
            debit_threshold=self.debit_threshold,
        )
