"""What operators send to POST /api/notifications, validated with pydantic, and its conversion to a command."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.api.schemas.wire import JSON_INTEGER
from shared.domain.audience import MAX_AUDIENCE_USERS, parse_audience_expression, parse_user_list
from shared.domain.audience_pattern import AUDIENCE_RULE, audience_pattern
from shared.domain.campaigns import CampaignContent, LocalTime, WavePolicy
from shared.domain.catalog.wire_types import NOT_BLANK, Matches
from shared.domain.languages import DEFAULT_LANGUAGE
from shared.usecases.commands import SendCampaign

__all__ = ["AudienceExpression", "AudienceParams", "LocalSendTime", "NotificationRequest", "WavesRequest"]

MAX_WAVES = 10
MAX_PAUSE = timedelta(days=7)
_LINK_SCHEMES = ("enterprisepush", "https")
_Text = Annotated[str, Field(max_length=1000)]
AudienceExpression = Annotated[
    str,
    Matches(audience_pattern(), f"not an audience expression this API accepts: {AUDIENCE_RULE}"),
    Field(description=f"a tag expression: {AUDIENCE_RULE}", examples=["topic:hr"]),
]


class AudienceParams(BaseModel):
    """Query string of GET /api/audience."""

    model_config = ConfigDict(extra="forbid")

    expression: AudienceExpression


class LocalSendTime(BaseModel):
    """Send at this wall-clock time on each recipient's own clock (the zone of their quiet hours)."""

    model_config = ConfigDict(extra="forbid")

    local_time: datetime = Field(
        alias="localTime", description="date and time without an offset, e.g. 2030-05-06T09:00"
    )
    fallback_time_zone: str = Field(
        default="UTC", alias="fallbackTimeZone", min_length=1, max_length=64,
        description="IANA zone for recipients who never told us theirs",
    )  # fmt: skip

    @field_validator("local_time")
    @classmethod
    def _naive(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            raise ValueError("localTime is a wall-clock time: leave the offset out (it is each recipient's own)")
        return value

    @field_validator("fallback_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("fallbackTimeZone must be an IANA time zone such as Europe/Madrid") from exc
        return value


class WavesRequest(BaseModel):
    """Roll the send out in waves, ``pause`` between them: each wave's share of the audience is its weight ÷ the
    sum of ``weights`` ([10, 40, 50] reads as percentages, [1, 1] is halves)."""

    model_config = ConfigDict(extra="forbid")

    weights: list[Annotated[int, Field(ge=1, le=100), JSON_INTEGER]] = Field(min_length=1, max_length=MAX_WAVES)
    pause: timedelta = Field(default=timedelta(0), description="ISO 8601 duration (PT30M) or seconds")

    @model_validator(mode="after")
    def _whole_audience(self) -> WavesRequest:
        if not timedelta(0) <= self.pause <= MAX_PAUSE:
            raise ValueError(f"pause must lie between 0 and {MAX_PAUSE.days} days")
        return self


_UserId = Annotated[str, Field(min_length=1, max_length=200), Matches(NOT_BLANK, "a user id, not blank")]


def _exactly_one_audience(schema: dict[str, Any]) -> None:
    """Exactly one of ``audience`` and ``users`` (each left out rather than null), as the model validates it."""
    for name in ("audience", "users"):
        field = schema["properties"][name]
        [given] = [variant for variant in field.pop("anyOf") if variant.get("type") != "null"]
        field.pop("default", None)
        field.update(given)
    schema["oneOf"] = [{"required": ["audience"]}, {"required": ["users"]}]


class NotificationRequest(BaseModel):
    """POST /api/notifications: a send to ``audience`` (a tag expression) or ``users``, now, later or in waves."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one_audience)

    audience: AudienceExpression | None = None
    users: list[_UserId] | None = Field(default=None, min_length=1, max_length=MAX_AUDIENCE_USERS)
    title: dict[str, _Text] = Field(max_length=10, description="language -> title")
    body: dict[str, _Text] = Field(max_length=10, description="language -> body")
    default_language: str = Field(default=DEFAULT_LANGUAGE, alias="defaultLanguage", max_length=8)
    deep_link: str | None = Field(default=None, alias="deepLink", max_length=512)
    silent: bool = Field(default=False, description="data-only push (no banner, no sound)")
    sensitive: bool = Field(default=False, description="secure payload: neutral text; content in the inbox")
    send_at: AwareDatetime | LocalSendTime | None = Field(default=None, alias="sendAt")
    waves: WavesRequest | None = None

    @field_validator("deep_link")
    @classmethod
    def _app_or_https_link(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in _LINK_SCHEMES or not (parts.netloc or parts.path):
                raise ValueError("deepLink must be an enterprisepush:// or https:// link")
        return value

    @field_validator("audience", "users", mode="before")
    @classmethod
    def _left_out_not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("leave it out rather than null")
        return value

    @model_validator(mode="after")
    def _one_audience(self) -> NotificationRequest:
        if (self.audience is None) == (self.users is None):
            raise ValueError("give exactly one of audience (a tag expression) or users (a list of user ids)")
        return self

    def to_command(self, idempotency_key: str | None) -> SendCampaign:
        """Raises ValidationError when the audience is not one a send may use."""
        if self.audience is not None:
            audience = parse_audience_expression(self.audience, location="/audience")
        else:
            audience = parse_user_list(self.users or [], location="/users")
        send_at = self.send_at if isinstance(self.send_at, datetime) else None
        local = self.send_at if isinstance(self.send_at, LocalSendTime) else None
        return SendCampaign(
            audience=audience,
            content=CampaignContent(
                titles=dict(self.title),
                bodies=dict(self.body),
                default_language=self.default_language,
                deep_link=self.deep_link,
                template="silent" if self.silent else "alert",
                sensitive=self.sensitive,
            ),
            send_at=send_at,
            local_time=LocalTime(local.local_time, local.fallback_time_zone) if local else None,
            waves=WavePolicy(tuple(self.waves.weights), self.waves.pause) if self.waves else None,
            idempotency_key=idempotency_key,
        )
