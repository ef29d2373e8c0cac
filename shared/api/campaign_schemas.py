"""What operators send to POST /api/notifications, validated with pydantic, and its conversion to a command."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from shared.api.schemas.wire import JSON_INTEGER, TimeZoneName
from shared.domain.audience import MAX_AUDIENCE_USERS, parse_audience_expression, parse_user_list
from shared.domain.audience_pattern import AUDIENCE_RULE, audience_pattern
from shared.domain.campaign_rules import (
    BODY_PATTERN,
    DEEP_LINK_MAX_CHARS,
    DEEP_LINK_PATTERN,
    LOCAL_TIME_PATTERN,
    MAX_PAUSE_SECONDS,
    PAUSE_PATTERN,
    PLACEHOLDER_PATTERN,
    SEND_TIME_PATTERN,
    TITLE_PATTERN,
    parse_pause,
)
from shared.domain.campaigns import CampaignContent, LocalTime, WavePolicy
from shared.domain.catalog.wire_types import Matches, python_regex
from shared.domain.device_templates import BODY_MAX_CHARS, TITLE_MAX_CHARS
from shared.domain.languages import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES
from shared.usecases.commands import SendCampaign

__all__ = [
    "IDEMPOTENCY_KEY_PATTERN",
    "USER_ID_PATTERN",
    "AudienceExpression",
    "AudienceParams",
    "LocalSendTime",
    "NotificationRequest",
    "WavesRequest",
]

MAX_WAVES = 10
# Printable ASCII without spaces (clients send UUIDs or similar), as the route checks it and the document states it.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,200}$"
AudienceExpression = Annotated[
    str,
    Matches(audience_pattern(), f"not an audience expression this API accepts: {AUDIENCE_RULE}"),
    Field(description=f"a tag expression: {AUDIENCE_RULE}", examples=["topic:hr"]),
]


@dataclass(frozen=True)
class _Lacks:
    """String metadata: the value must not contain a match of ``pattern`` (stated as ``not: {pattern}``)."""

    pattern: str
    message: str

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        regex, message = python_regex(self.pattern), self.message

        def check(value: str) -> str:
            if regex.search(value):
                raise PydanticCustomError("string_pattern_match", message)
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(schema), "not": {"pattern": self.pattern}}


_NO_PLACEHOLDER = _Lacks(PLACEHOLDER_PATTERN, "placeholders such as $(name) are not filled in a campaign's text")
_Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=TITLE_MAX_CHARS),
    Matches(TITLE_PATTERN, "not blank, no control characters"),
    _NO_PLACEHOLDER,
]
_Body = Annotated[
    str,
    StringConstraints(min_length=1, max_length=BODY_MAX_CHARS),
    Matches(BODY_PATTERN, "not blank, no control characters but line breaks"),
    _NO_PLACEHOLDER,
]


def _supported(value: str) -> str:
    if value not in SUPPORTED_LANGUAGES:
        raise ValueError(f"expected one of {', '.join(SUPPORTED_LANGUAGES)}")
    return value


_Language = Annotated[
    str, AfterValidator(_supported), WithJsonSchema({"type": "string", "enum": list(SUPPORTED_LANGUAGES)})
]
_DeepLink = Annotated[
    str,
    StringConstraints(max_length=DEEP_LINK_MAX_CHARS),
    Matches(DEEP_LINK_PATTERN, "an enterprisepush:// or https:// link of URI characters"),
]


def _parsed_time(pattern: str, message: str) -> Any:
    regex = python_regex(pattern)

    def parse(value: object) -> datetime:
        if isinstance(value, str) and regex.search(value):
            return datetime.fromisoformat(value)
        raise ValueError(message)

    return BeforeValidator(parse)


_SendTime = Annotated[
    datetime,
    _parsed_time(SEND_TIME_PATTERN, "an RFC 3339 time with an offset, years 2000-9998; a past time means now"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": SEND_TIME_PATTERN,
            "description": "when to send (RFC 3339, years 2000-9998); a time in the past means now",
        }
    ),
]
_LocalDateTime = Annotated[
    datetime,
    _parsed_time(LOCAL_TIME_PATTERN, "a date and time without an offset, such as 2030-05-06T09:00"),
    WithJsonSchema({"type": "string", "pattern": LOCAL_TIME_PATTERN}),
]


def _pause(value: object) -> timedelta:
    if isinstance(value, str) and (pause := parse_pause(value)) is not None:
        return pause
    # JSON Schema's "integer" admits 30.0; a boolean is not a JSON number.
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if number.is_finite() and 0 <= number <= MAX_PAUSE_SECONDS and number == number.to_integral_value():
            return timedelta(seconds=int(number))
    raise ValueError(f"whole seconds from 0 to {MAX_PAUSE_SECONDS}, or an ISO 8601 duration such as PT30M (7 days)")


_Pause = Annotated[
    timedelta,
    BeforeValidator(_pause),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": MAX_PAUSE_SECONDS},
                {"type": "string", "pattern": PAUSE_PATTERN},
            ],
            "description": "seconds, or an ISO 8601 duration (PT30M, PT1H30M, P2D); at most 7 days",
        }
    ),
]


class AudienceParams(BaseModel):
    """Query string of GET /api/audience."""

    model_config = ConfigDict(extra="forbid")

    expression: AudienceExpression


class LocalSendTime(BaseModel):
    """Send at this wall-clock time on each recipient's own clock (the zone of their quiet hours)."""

    model_config = ConfigDict(extra="forbid")

    local_time: _LocalDateTime = Field(
        alias="localTime",
        description="date and time without an offset, e.g. 2030-05-06T09:00 (years 2000-9998); where it has "
        "passed, recipients get the send at once",
    )
    fallback_time_zone: TimeZoneName = Field(
        default="UTC", alias="fallbackTimeZone", description="IANA zone for recipients who never told us theirs"
    )


class WavesRequest(BaseModel):
    """Roll the send out in waves, ``pause`` between them: each wave's share of the audience is its weight ÷ the
    sum of ``weights`` ([10, 40, 50] reads as percentages, [1, 1] is halves)."""

    model_config = ConfigDict(extra="forbid")

    weights: list[Annotated[int, Field(ge=1, le=100), JSON_INTEGER]] = Field(min_length=1, max_length=MAX_WAVES)
    pause: _Pause = timedelta(0)


# Printable ASCII, not blank, without '"' and '\\' (which JSON escapes): with 1,000 of them the largest send the
# document admits still fits the route's body limit however a client writes it with JSON's usual escapes.
USER_ID_PATTERN = r"^[ !#-\[\]-~]*[!#-\[\]-~][ !#-\[\]-~]*$"
_UserId = Annotated[str, Field(min_length=1, max_length=200), Matches(USER_ID_PATTERN, "a user id: printable ASCII")]


def _send_schema(schema: dict[str, Any]) -> None:
    """Exactly one of ``audience`` and ``users`` (each left out rather than null), and a title and a body in the
    default language (``en`` when ``defaultLanguage`` is left out), as the model validates them."""
    for name in ("audience", "users"):
        field = schema["properties"][name]
        [given] = [variant for variant in field.pop("anyOf") if variant.get("type") != "null"]
        field.pop("default", None)
        field.update(given)
    languages: list[dict[str, Any]] = [
        {
            "required": ["defaultLanguage"],
            "properties": {
                "defaultLanguage": {"const": language},
                "title": {"required": [language]},
                "body": {"required": [language]},
            },
        }
        for language in SUPPORTED_LANGUAGES
    ]
    languages.append(
        {
            "not": {"required": ["defaultLanguage"]},
            "properties": {"title": {"required": [DEFAULT_LANGUAGE]}, "body": {"required": [DEFAULT_LANGUAGE]}},
        }
    )
    schema["allOf"] = [{"oneOf": [{"required": ["audience"]}, {"required": ["users"]}]}, {"oneOf": languages}]


class NotificationRequest(BaseModel):
    """POST /api/notifications: a send to ``audience`` (a tag expression) or ``users``, now, later or in waves."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_send_schema)

    audience: AudienceExpression | None = None
    users: list[_UserId] | None = Field(default=None, min_length=1, max_length=MAX_AUDIENCE_USERS)
    title: dict[_Language, _Title] = Field(description="language -> title")
    body: dict[_Language, _Body] = Field(description="language -> body")
    default_language: _Language = Field(default=DEFAULT_LANGUAGE, alias="defaultLanguage")
    deep_link: _DeepLink | None = Field(default=None, alias="deepLink")
    # Strict: a JSON boolean only (pydantic would also take 0, 1, "yes", which the document does not admit).
    silent: bool = Field(default=False, strict=True, description="data-only push (no banner, no sound)")
    sensitive: bool = Field(
        default=False, strict=True, description="secure payload: neutral text; content in the inbox"
    )
    send_at: _SendTime | LocalSendTime | None = Field(default=None, alias="sendAt")
    waves: WavesRequest | None = None

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
        if self.default_language not in self.title or self.default_language not in self.body:
            raise ValueError(f"title and body need a text in the default language {self.default_language!r}")
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
