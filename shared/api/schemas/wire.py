"""Value types of the registration API whose check is exactly their JSON Schema (see catalog.wire_types).

Lists that may grow at run time (topics: a new LoB system is a topic plus catalog entries) are read when a value
is validated and when the schema is generated, never frozen at import.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Iterable
from functools import cache
from typing import Annotated, Final

from babel.core import get_global
from pydantic import AfterValidator, BeforeValidator, GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from shared.domain.catalog.wire_types import Matches
from shared.domain.topics import TOPICS

__all__ = [
    "APNS_TOKEN_PATTERN",
    "CLOCK_TIME_PATTERN",
    "FCM_TOKEN_PATTERN",
    "JSON_INTEGER",
    "LANGUAGE_PATTERN",
    "WNS_CHANNEL_PATTERN",
    "ClockTime",
    "Interest",
    "LanguageTag",
    "TimeZoneName",
    "time_zones",
]

APNS_TOKEN_PATTERN: Final = r"^[0-9A-Fa-f]{64,200}$"  # noqa: S105 - a pattern, not a secret
FCM_TOKEN_PATTERN: Final = r"^[-A-Za-z0-9_:]{20,4096}$"  # noqa: S105 - a pattern, not a secret
# An https URI on a notify.windows.com host (lower case, as WNS issues them), no user info or port.
WNS_CHANNEL_PATTERN: Final = r"^https://(?:[a-z0-9-]+\.)+notify\.windows\.com(?:[/?][!-~]*)?$"
# HH:MM on a 24-hour clock, as the preferences are shown back.
CLOCK_TIME_PATTERN: Final = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$"

# BCP 47 (RFC 5646 langtag or private use), case-insensitive, "-" or "_" between subtags: the tags that
# shared.domain.languages.resolve_language maps (a test keeps the two in step).
_S = "[-_]"
_A = "[A-Za-z]"
_AN = "[A-Za-z0-9]"
_LANGUAGE_SUBTAG = rf"(?:{_A}{{2,3}}(?:{_S}{_A}{{3}}){{0,3}}|{_A}{{4,8}})"
_LANGTAG = (
    rf"{_LANGUAGE_SUBTAG}"
    rf"(?:{_S}{_A}{{4}})?"  # script
    rf"(?:{_S}(?:{_A}{{2}}|[0-9]{{3}}))?"  # region
    rf"(?:{_S}(?:{_AN}{{5,8}}|[0-9]{_AN}{{3}}))*"  # variants
    rf"(?:{_S}[0-9A-WYZa-wyz](?:{_S}{_AN}{{2,8}})+)*"  # extensions
    rf"(?:{_S}[Xx](?:{_S}{_AN}{{1,8}})+)?"  # private use
)
LANGUAGE_PATTERN: Final = rf"^(?:{_LANGTAG}|[Xx](?:{_S}{_AN}{{1,8}})+)$"

LanguageTag = Annotated[
    str,
    StringConstraints(max_length=35),
    Matches(LANGUAGE_PATTERN, "expected a BCP 47 language tag such as 'en', 'de-AT' or 'es-419'"),
]
ClockTime = Annotated[str, Matches(CLOCK_TIME_PATTERN, "expected HH:MM on a 24-hour clock, such as 07:30")]


class _Enumerated:
    """A string from a list read at validation and at schema generation time."""

    def __init__(self, values: Callable[[], Iterable[str]], what: str) -> None:
        self._values = values
        self._what = what

    def check(self, value: str) -> str:
        if value not in set(self._values()):
            raise ValueError(f"{value[:64]!r} is not {self._what}")
        return value

    def __get_pydantic_json_schema__(self, _core: CoreSchema, _handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "enum": sorted(self._values())}


_TOPIC = _Enumerated(lambda: TOPICS, "a topic")
Interest = Annotated[str, AfterValidator(_TOPIC.check), _TOPIC]


@cache
def time_zones() -> frozenset[str]:
    """IANA zone names as the pinned Babel release knows them (canonical and aliases) that load here."""
    known = set(get_global("zone_territories")) | set(get_global("zone_aliases"))
    return frozenset(name for name in known if _loads(name))


def _loads(name: str) -> bool:
    if not re.fullmatch(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*", name):
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


_ZONE = _Enumerated(time_zones, "an IANA time zone such as Europe/Berlin")
TimeZoneName = Annotated[str, AfterValidator(_ZONE.check), _ZONE]


def _json_integer(value: object) -> object:
    # JSON Schema's "integer" admits 95.0 (pydantic then makes it 95, and refuses 95.5); a string or a boolean is
    # not a JSON number, so it stays refused as strict mode would.
    if isinstance(value, str | bool):
        raise ValueError("Input should be a valid integer")
    return value


# Bounds go in Field() inside: Annotated[int, Field(ge=1), JSON_INTEGER] (after it, the schema shows raw "ge").
JSON_INTEGER: Final = BeforeValidator(_json_integer)
