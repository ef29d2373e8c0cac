"""What the registration routes answer: response models the handlers render with and the OpenAPI document states."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from shared.api.schemas.wire import CLOCK_TIME_PATTERN
from shared.domain.installation_ids import INSTALLATION_ID_PATTERN
from shared.domain.languages import SUPPORTED_LANGUAGES
from shared.domain.records import InstallationRecord, Platform, Preferences

__all__ = [
    "InstallationList",
    "InstallationView",
    "NotificationOutcomeView",
    "PreferencesView",
    "View",
]

_LANGUAGE: JsonDict = {"type": "string", "enum": list(SUPPORTED_LANGUAGES)}
_DATE_TIME: JsonDict = {"format": "date-time"}


class View(BaseModel):
    """A response body: camelCase on the wire, nothing but the declared fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_unset=False)


class InstallationView(View):
    installation_id: str = Field(pattern=INSTALLATION_ID_PATTERN.pattern)
    platform: Platform
    push_channel_hint: str = Field(max_length=6, description="the last characters of the push channel")
    language: str = Field(json_schema_extra=_LANGUAGE, description="the language notifications are written in")
    interests: list[str]
    tags: list[str] = Field(description="server-assigned Notification Hubs tags")
    templates: list[Literal["alert", "silent"]]
    state: Literal["pending", "active"] = Field(description="pending until Notification Hubs has the device")
    created_at: str = Field(json_schema_extra=_DATE_TIME)

    @classmethod
    def of(cls, record: InstallationRecord) -> InstallationView:
        return cls(
            installation_id=record.installation_id,
            platform=record.platform,
            push_channel_hint=record.push_channel_hint,
            language=record.language,
            interests=list(record.interests),
            tags=list(record.tags),
            templates=["alert", "silent"],
            state="active" if record.state == "active" else "pending",
            created_at=record.created_at.isoformat(),
        )


class InstallationList(View):
    installations: list[InstallationView]


class QuietHoursView(View):
    start: str = Field(pattern=CLOCK_TIME_PATTERN)
    end: str = Field(pattern=CLOCK_TIME_PATTERN)
    time_zone: str


class PreferencesView(View):
    interests: list[str]
    language: str | None = Field(json_schema_extra={"enum": [*SUPPORTED_LANGUAGES, None]})
    quiet_hours: QuietHoursView | None
    debit_threshold: str | None = Field(description="a decimal string such as 250.00")

    @classmethod
    def of(cls, preferences: Preferences) -> PreferencesView:
        quiet = preferences.quiet_hours
        threshold = preferences.debit_threshold
        return cls(
            interests=list(preferences.interests),
            language=preferences.language,
            quiet_hours=(
                QuietHoursView(
                    start=quiet.start.strftime("%H:%M"), end=quiet.end.strftime("%H:%M"), time_zone=quiet.time_zone
                )
                if quiet
                else None
            ),
            debit_threshold=format(threshold, "f") if threshold is not None else None,
        )


class DeviceOutcome(View):
    platform: str | None
    push_channel_hint: str = Field(max_length=6)
    outcome: str | None


class NotificationOutcomeView(View):
    """Notification Hubs' per-device outcome of a test send (the use case's outcome_view, validated against this
    model); push handles never leave the backend whole."""

    success: int = Field(ge=0)
    failure: int = Field(ge=0)
    results: list[DeviceOutcome]
