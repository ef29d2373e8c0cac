"""The Notification Hubs template expression language itself (NH-REST §6): its terms and its parser.

A JSON string value, XML attribute value or XML element text is an expression when it starts with one of
``$ . % # {``; ``shared.notification_hubs.expressions`` finds them in template bodies. Evaluating them is the
job of shared/notification_hubs/rendering.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, NoReturn

from shared.domain.errors import FieldError
from shared.notification_hubs.errors import NhValidationError

__all__ = [
    "MAX_PROPERTY_NAME_LENGTH",
    "WHITESPACE",
    "BodyFormat",
    "LiteralTerm",
    "PropertyTerm",
    "TemplateExpression",
    "body_format_for",
    "is_expression",
    "parse_expression",
]

MAX_PROPERTY_NAME_LENGTH = 120
# Not from NH: a length of at most 9 digits, so a hostile template cannot ask for an absurd truncation length.
_MAX_LENGTH_DIGITS = 9
_EXPRESSION_STARTS = frozenset("$.%#{")
_PROPERTY_NAME = re.compile(r"[A-Za-z0-9_]+")
# Skipped between the parts of an expression, and trimmed around XML element text before it is read as one.
WHITESPACE = " \t\r\n"
_Kind = Literal["$", ".", "%", "#"]
_KINDS: dict[str, _Kind] = {"$": "$", ".": ".", "%": "%", "#": "#"}


class BodyFormat(StrEnum):
    """How a template body is written."""

    JSON = "json"
    XML = "xml"


def body_format_for(platform: str) -> BodyFormat:
    """XML for Windows platforms (``wns``, ``mpns``), JSON for every other platform."""
    return BodyFormat.XML if platform.lower() in ("wns", "mpns") else BodyFormat.JSON


# --- expressions -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PropertyTerm:
    """``$(name)``, ``$(name, n)``, ``.(name, n)``, ``%(name)`` or ``#(name)``, optionally ``name:{default}``."""

    kind: _Kind
    name: str
    length: int | None = None
    default: str | None = None


@dataclass(frozen=True)
class LiteralTerm:
    """A quoted literal inside ``{…}``, with the doubled quotes already undone."""

    text: str


@dataclass(frozen=True)
class TemplateExpression:
    """One parsed expression: a single property term, or ``{t1 + t2 + …}`` when ``composite``."""

    terms: tuple[PropertyTerm | LiteralTerm, ...]
    composite: bool = False


def is_expression(value: str) -> bool:
    """True when ``value`` must be parsed as an expression rather than kept as literal text."""
    return value[:1] in _EXPRESSION_STARTS


class _ExpressionSyntaxError(Exception):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position  # 1-based character position inside the expression


class _ExpressionParser:
    def __init__(self, text: str) -> None:
        self._text = text
        self._index = 0

    def parse(self) -> TemplateExpression:
        if self._peek() == "{":
            return self._composite()
        term = self._property()
        self._skip_whitespace()
        if self._index < len(self._text):
            self._fail(f"unexpected {self._peek()!r}; concatenate inside {{…}} with '+', e.g. {{$(a) + ' ' + $(b)}}")
        return TemplateExpression((term,))

    def _composite(self) -> TemplateExpression:
        self._index += 1
        terms: list[PropertyTerm | LiteralTerm] = []
        while True:
            self._skip_whitespace()
            terms.append(self._term())
            self._skip_whitespace()
            char = self._peek()
            if not char:
                self._fail("'{' at character 1 is not closed with '}'")
            if char not in "+}":
                self._fail(f"expected '+' or '}}'{self._found()}")
            self._index += 1
            if char == "}":
                break
        self._skip_whitespace()
        if self._index < len(self._text):
            self._fail(f"unexpected {self._peek()!r} after the closing '}}'")
        if len(terms) > 1 and any(isinstance(term, PropertyTerm) and term.kind == "#" for term in terms):
            raise _ExpressionSyntaxError("'#(…)' cannot be concatenated with other terms", 1)
        return TemplateExpression(tuple(terms), composite=True)

    def _term(self) -> PropertyTerm | LiteralTerm:
        char = self._peek()
        if char in ("'", '"'):
            return self._literal(char)
        if char and char in "$.%#":
            return self._property()
        self._fail(f"expected $( .( %( #( or a quoted literal{self._found()}")

    def _literal(self, quote_char: str) -> LiteralTerm:
        start = self._index
        self._index += 1
        parts: list[str] = []
        while True:
            end = self._text.find(quote_char, self._index)
            if end == -1:
                raise _ExpressionSyntaxError(f"the literal opened at character {start + 1} is not closed", start + 1)
            parts.append(self._text[self._index : end])
            self._index = end + 1
            if self._peek() != quote_char:
                return LiteralTerm("".join(parts))
            parts.append(quote_char)
            self._index += 1

    def _property(self) -> PropertyTerm:
        kind = self._text[self._index]
        if self._text[self._index : self._index + 5].lower() == "$body":
            self._fail("'$body' is not supported")
        self._index += 1
        if self._peek() != "(":
            self._fail(f"expected '(' after '{kind}'{self._found()}")
        self._index += 1
        name = self._property_name()
        default = self._default() if self._peek() == ":" else None
        self._skip_whitespace()
        length = self._length(kind) if self._peek() == "," else None
        if self._peek() != ")":
            self._fail(f"expected ')'{self._found()}")
        self._index += 1
        if kind == "." and length is None:
            self._fail("'.(…)' needs a length: .(name, n)")
        return PropertyTerm(_KINDS[kind], name, length, default)

    def _property_name(self) -> str:
        start = self._index
        while self._index < len(self._text) and self._text[self._index] not in ",):":
            self._index += 1
        name = self._text[start : self._index].strip()
        if not name:
            raise _ExpressionSyntaxError("a property name is missing", start + 1)
        if _PROPERTY_NAME.fullmatch(name) is None:
            raise _ExpressionSyntaxError(f"property name {name!r} may contain only letters, digits and '_'", start + 1)
        if len(name) > MAX_PROPERTY_NAME_LENGTH:
            raise _ExpressionSyntaxError(
                f"property names may have at most {MAX_PROPERTY_NAME_LENGTH} characters", start + 1
            )
        return name

    def _default(self) -> str:
        start = self._index
        self._index += 1
        if self._peek() != "{":
            self._fail(f"expected '{{' after ':'{self._found()}")
        self._index += 1
        value: list[str] = []
        while True:
            char = self._peek()
            if not char:
                raise _ExpressionSyntaxError("the default value is not closed with '}'", start + 1)
            following = self._text[self._index + 1 : self._index + 2]
            if char == "\\" and following in ("\\", "}"):
                value.append(following)
                self._index += 2
                continue
            self._index += 1
            if char == "}":
                return "".join(value)
            value.append(char)

    def _length(self, kind: str) -> int:
        if kind in ("%", "#"):
            self._fail(f"'{kind}(…)' takes no length")
        self._index += 1
        self._skip_whitespace()
        start = self._index
        while self._peek().isascii() and self._peek().isdigit():
            self._index += 1
        digits = self._text[start : self._index]
        if not digits:
            self._fail(f"expected a length (a whole number){self._found()}")
        if len(digits) > _MAX_LENGTH_DIGITS:
            raise _ExpressionSyntaxError("the length is too large", start + 1)
        self._skip_whitespace()
        return int(digits)

    def _peek(self) -> str:
        return self._text[self._index : self._index + 1]

    def _found(self) -> str:
        char = self._peek()
        return " at the end" if not char else f", found {char!r}"

    def _skip_whitespace(self) -> None:
        while self._peek() and self._peek() in WHITESPACE:
            self._index += 1

    def _fail(self, message: str) -> NoReturn:
        raise _ExpressionSyntaxError(message, self._index + 1)


def parse_expression(text: str, *, location: str = "expression") -> TemplateExpression:
    """Parse one expression (``text`` must satisfy ``is_expression``); raises NhValidationError with the position."""
    try:
        return _ExpressionParser(text).parse()
    except _ExpressionSyntaxError as exc:
        shown = text if len(text) <= 60 else text[:57] + "..."
        message = f"invalid expression {shown!r} at character {exc.position}: {exc.message}"
        raise NhValidationError(f"invalid template: {message}", [FieldError(location, message)]) from None
