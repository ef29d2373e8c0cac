"""The values an operator's send may hold, as patterns: the API checks exactly these and the OpenAPI document states
them, so a schema-valid send is never refused (shared.domain.campaign_content then finds nothing to refuse).

- Texts: at most the characters the device templates show (TITLE_MAX_CHARS, BODY_MAX_CHARS), something besides
  white space, no control characters (a line break is allowed in a body), no ``$(name)``-like placeholders.
- ``deepLink``: an ``enterprisepush://`` or ``https://`` link of RFC 3986 characters, at most DEEP_LINK_MAX_CHARS.
  With these limits the largest send renders within every platform's payload limit (a unit test renders it).
- Send times: RFC 3339, years 2000-9998 (a time in the past means now; the bound keeps every wave's time, up to
  MAX_WAVES pauses later, within what a date holds). A local time is the same without an offset.
- ``pause``: whole seconds from 0 to MAX_PAUSE, or an ISO 8601 duration within it (``PT30M``, ``PT1H30M``, ``P2D``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

__all__ = [
    "BODY_PATTERN",
    "DEEP_LINK_MAX_CHARS",
    "DEEP_LINK_PATTERN",
    "LOCAL_TIME_PATTERN",
    "MAX_PAUSE",
    "MAX_PAUSE_SECONDS",
    "PAUSE_PATTERN",
    "PLACEHOLDER_PATTERN",
    "SEND_TIME_PATTERN",
    "TITLE_PATTERN",
    "parse_pause",
]

MAX_PAUSE: Final = timedelta(days=7)
MAX_PAUSE_SECONDS: Final = int(MAX_PAUSE.total_seconds())
DEEP_LINK_MAX_CHARS: Final = 512
# What campaign_content refuses as a template placeholder (NH fills them in templates, never in property values).
PLACEHOLDER_PATTERN: Final = r"[$.%#]\([A-Za-z0-9_ ,]*\)"

# C0 and C1 control characters and DEL; a body may hold line breaks (\n).
_CONTROLS = r"\x00-\x1f\x7f-\x9f"
_BODY_CONTROLS = r"\x00-\x09\x0b-\x1f\x7f-\x9f"
# White space (Python's str.isspace() set, as catalog.wire_types.NOT_BLANK) and U+FEFF, besides the controls.
_SPACES = r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def _text_pattern(controls: str) -> str:
    # Written as "no controls" around one character that is neither a control nor white space; maxLength bounds it.
    allowed = f"[^{controls}]"
    return f"^{allowed}*[^{_CONTROLS}{_SPACES}]{allowed}*$"


TITLE_PATTERN: Final = _text_pattern(_CONTROLS)
BODY_PATTERN: Final = _text_pattern(_BODY_CONTROLS)

DEEP_LINK_PATTERN: Final = r"^(?:enterprisepush|https)://[-A-Za-z0-9._~:/?#@!$&'()*+,;=%]+$"

_YEAR = r"(?:[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
_LEAP_YEAR = r"(?:[2-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[3579][26])00)"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_DATE_MINUTE = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)T(?:[01][0-9]|2[0-3]):[0-5][0-9]"
_SECONDS = r":[0-5][0-9](?:\.[0-9]{1,6})?"
# RFC 3339 (seconds required, as its date-time format says); a local time may leave the seconds out.
SEND_TIME_PATTERN: Final = rf"^{_DATE_MINUTE}{_SECONDS}(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
LOCAL_TIME_PATTERN: Final = rf"^{_DATE_MINUTE}(?:{_SECONDS})?$"

# Hours 0-167 with minutes and seconds, or up to 168 hours or 7 days whole: never beyond MAX_PAUSE.
_H = r"(?:1[0-5][0-9]|16[0-7]|[1-9]?[0-9])H"
_M = r"[1-5]?[0-9]M"
_S = r"[1-5]?[0-9]S"
PAUSE_PATTERN: Final = rf"^(?:P[0-7]D|PT168H|PT(?:{_H}(?:{_M})?(?:{_S})?|{_M}(?:{_S})?|{_S}))$"
_PAUSE = re.compile(PAUSE_PATTERN.removesuffix("$") + r"\Z")
_PART = re.compile(r"([0-9]+)([DHMS])")
_UNIT = {"D": timedelta(days=1), "H": timedelta(hours=1), "M": timedelta(minutes=1), "S": timedelta(seconds=1)}


def parse_pause(value: str) -> timedelta | None:
    """The pause a PAUSE_PATTERN duration stands for, or None when ``value`` is not one."""
    if not _PAUSE.match(value):
        return None
    return sum((int(number) * _UNIT[unit] for number, unit in _PART.findall(value)), timedelta(0))
