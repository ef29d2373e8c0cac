"""Value types of the public contract whose check is exactly their JSON Schema.

pydantic's lax parsing accepts more than a JSON Schema says: ``Decimal`` takes ``"1_000"``, ``" 5 "`` and
``"1e3"``, ``date`` takes integers, ``AnyUrl`` normalizes and refuses hosts a pattern cannot foresee, and ``\\S``
means different characters to Python, Rust and ECMAScript regular expressions. The types here check a
documented pattern, enumeration or range themselves, written only with ASCII ranges and ``\\u`` escapes that
every engine reads alike, so the catalog and the OpenAPI document state every value the server accepts and the
server accepts every value they state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, DecimalException
from typing import Annotated, Any, Final

from babel.numbers import list_currencies
from pydantic import (
    AfterValidator,
    BeforeValidator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

__all__ = [
    "DATE_PATTERN",
    "DATE_TIME_PATTERN",
    "HTTPS_URL_PATTERN",
    "NOT_BLANK",
    "Currency",
    "HttpsUrl",
    "Identifier",
    "IsoDate",
    "Matches",
    "Name",
    "NonNegativeAmount",
    "PositiveAmount",
    "Rfc3339DateTime",
    "Text",
    "amount_schema",
    "amount_validator",
    "decimal_pattern",
    "python_regex",
]

# One character that is not white space (Python's str.isspace() set, plus U+FEFF).
NOT_BLANK: Final = r"[^\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"

# RFC 3339 full-date, valid days only (29 February in leap years), years 0001-9999 as Python's date holds them.
_YEAR = r"(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"  # 31-day months
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"  # 30-day months
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_FULL_DATE = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
DATE_PATTERN: Final = rf"^{_FULL_DATE}$"
# RFC 3339 date-time with an offset; upper-case T and Z, no leap second, up to nine fractional digits.
DATE_TIME_PATTERN: Final = (
    rf"^{_FULL_DATE}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{{1,9}})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
# https, a host name (no IP literal, no user info), an optional port, then RFC 3986 characters only.
HTTPS_URL_PATTERN: Final = (
    r"^https://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]{1,5})?(?:[/?#][-A-Za-z0-9._~:/?#@!$&'()*+,;=%]*)?$"
)

_DATE_TIME = re.compile(DATE_TIME_PATTERN.removesuffix("$") + r"\Z")


def _rfc3339(value: Any) -> datetime:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if isinstance(value, str) and _DATE_TIME.fullmatch(value):
        return datetime.fromisoformat(value)  # every match parses, keeping its offset
    raise ValueError("an RFC 3339 timestamp with a UTC offset, such as 2025-03-10T09:30:00Z")


# A point in time exactly as the schema states it (pydantic alone also takes unix seconds and dates without a time).
Rfc3339DateTime = Annotated[
    datetime,
    BeforeValidator(_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": DATE_TIME_PATTERN}),
]

_STEP = Decimal("0.0001")  # four decimal places cover every ISO 4217 minor unit


@dataclass(frozen=True)
class Matches:
    """String metadata: the value must match ``pattern`` (stated in the JSON Schema), else ``message``.

    Like ``Field(pattern=...)``, with an error message a person can act on. Patterns use only constructs every
    regular expression engine reads alike (ASCII ranges, ``\\uXXXX`` escapes), so the schema means what is checked.
    """

    pattern: str
    message: str

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        regex = python_regex(self.pattern)
        message = self.message

        def check(value: str) -> str:
            if not regex.search(value):
                raise PydanticCustomError("string_pattern_mismatch", message)
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


def python_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` as ECMAScript reads it: a final ``$`` is the end of the text (in Python it also matches before a
    trailing line break)."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


_BLANK = Matches(NOT_BLANK, "must contain something besides white space")

# Identifiers and names hold something besides white space; lengths keep deep links and tags bounded.
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=100), _BLANK]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), _BLANK]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500), _BLANK]

_CURRENCIES: Final = tuple(sorted(list_currencies()))


def _known_currency(code: str) -> str:
    if code not in _CURRENCIES:
        raise ValueError(f"{code[:8]!r} is not an ISO 4217 currency code")
    return code


Currency = Annotated[
    str,
    AfterValidator(_known_currency),
    WithJsonSchema({"type": "string", "enum": list(_CURRENCIES), "description": "ISO 4217 currency code"}),
]


def decimal_pattern(*, integer_digits: int, positive: bool) -> str:
    """A decimal string without sign, exponent or leading zeros, up to four decimal places, below 10^digits."""
    whole = rf"[1-9][0-9]{{0,{integer_digits - 1}}}"
    if not positive:
        return rf"^(?:0|{whole})(?:\.[0-9]{{1,4}})?$"
    fraction = r"(?:[1-9][0-9]{0,3}|0[1-9][0-9]{0,2}|00[1-9][0-9]?|000[1-9])"
    return rf"^(?:{whole}(?:\.[0-9]{{1,4}})?|0\.{fraction})$"


def amount_schema(
    integer_digits: int,
    *,
    positive: bool,
    description: str = "a decimal amount: a JSON number or a decimal string, at most four decimal places",
) -> dict[str, Any]:
    """The JSON Schema of what ``amount_validator`` accepts with the same arguments."""
    bound = "exclusiveMinimum" if positive else "minimum"
    return {
        "anyOf": [
            {"type": "number", bound: 0, "exclusiveMaximum": 10**integer_digits, "multipleOf": float(_STEP)},
            {"type": "string", "pattern": decimal_pattern(integer_digits=integer_digits, positive=positive)},
        ],
        "description": description,
    }


def amount_validator(*, integer_digits: int, positive: bool) -> BeforeValidator:
    """The check ``_amount_schema`` documents: JSON number or decimal string, range, four decimal places."""
    pattern = python_regex(decimal_pattern(integer_digits=integer_digits, positive=positive))
    limit = Decimal(10) ** integer_digits

    def check(value: Any) -> Decimal:
        if isinstance(value, str):
            if not pattern.fullmatch(value):
                raise ValueError('expected a decimal string such as "12.50" (no sign, exponent or leading zeros)')
            number = Decimal(value)
        elif isinstance(value, Decimal | int) and not isinstance(value, bool):
            number = Decimal(value)
        elif isinstance(value, float):
            number = Decimal(repr(value))
        else:
            raise ValueError("expected a JSON number or a decimal string")
        if not number.is_finite() or number >= limit:
            raise ValueError(f"must be a finite number below 10^{integer_digits}")
        if number < 0 or (positive and number == 0):
            raise ValueError("must be greater than 0" if positive else "must not be negative")
        try:
            whole_steps = number % _STEP == 0
        except DecimalException:
            whole_steps = False
        if not whole_steps:
            raise ValueError("at most four decimal places")
        return abs(number) if number == 0 else number  # -0.0 is 0.0

    return BeforeValidator(check)


PositiveAmount = Annotated[
    Decimal,
    amount_validator(integer_digits=14, positive=True),
    WithJsonSchema(amount_schema(14, positive=True)),
]
NonNegativeAmount = Annotated[
    Decimal,
    amount_validator(integer_digits=14, positive=False),
    WithJsonSchema(amount_schema(14, positive=False)),
]


_DATE = python_regex(DATE_PATTERN)


def _iso_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.search(value):
        return date.fromisoformat(value)
    raise ValueError("expected a date as YYYY-MM-DD")


IsoDate = Annotated[
    date,
    BeforeValidator(_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN}),
]
HttpsUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2048),
    Matches(HTTPS_URL_PATTERN, "expected an https URL with a host name, in URI characters only"),
]
