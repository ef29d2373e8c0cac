"""The Notification Hubs template expression language itself (NH-REST §6): terms, the parser, evaluation.

A JSON string value, XML attribute value or XML element text is an expression when it starts with one of
``$ . % # {``; ``shared.notification_hubs.expressions`` finds them in template bodies and renders the bodies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, NoReturn
from urllib.parse import quote

from shared.domain.errors import FieldError
from shared.notification_hubs.errors import NhValidationError

__all__ = [
    "MAX_PROPERTY_NAME_LENGTH",
    "BodyFormat",
    "LiteralTerm",
    "PropertyTerm",
    "TemplateExpression",
    "body_format_for",
    "evaluate_expression",
    "is_expression",
    "parse_expression",
]

# Shared with shared.notification_hubs.expressions (the body walker); not part of the package's public API:
# ExpressionSyntaxError, expression_error, parse_unchecked, property_lookup, term_text, WHITESPACE.

MAX_PROPERTY_NAME_LENGTH = 120
# Not from NH: bounds nesting so hostile bodies fail validation instead of exhausting the stack.
_MAX_LENGTH_DIGITS = 9
_EXPRESSION_STARTS = frozenset("$.%#{")
_PROPERTY_NAME = re.compile(r"[A-Za-z0-9_]+")
# The JavaScript number shape from the NH docs; deliberately without a sign.
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

    @property
    def is_number(self) -> bool:
        """True for a lone ``#(p)``, the only form that may render as a bare JSON number."""
        return not self.composite and isinstance(self.terms[0], PropertyTerm) and self.terms[0].kind == "#"


def is_expression(value: str) -> bool:
    """True when ``value`` must be parsed as an expression rather than kept as literal text."""
    return value[:1] in _EXPRESSION_STARTS


class ExpressionSyntaxError(Exception):
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
            raise ExpressionSyntaxError("'#(…)' cannot be concatenated with other terms", 1)
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
                raise ExpressionSyntaxError(f"the literal opened at character {start + 1} is not closed", start + 1)
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
            raise ExpressionSyntaxError("a property name is missing", start + 1)
        if _PROPERTY_NAME.fullmatch(name) is None:
            raise ExpressionSyntaxError(f"property name {name!r} may contain only letters, digits and '_'", start + 1)
        if len(name) > MAX_PROPERTY_NAME_LENGTH:
            raise ExpressionSyntaxError(
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
                raise ExpressionSyntaxError("the default value is not closed with '}'", start + 1)
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
            raise ExpressionSyntaxError("the length is too large", start + 1)
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
        raise ExpressionSyntaxError(message, self._index + 1)


def parse_unchecked(text: str) -> TemplateExpression:
    return _ExpressionParser(text).parse()


def parse_expression(text: str, *, location: str = "expression") -> TemplateExpression:
    """Parse one expression (``text`` must satisfy ``is_expression``); raises NhValidationError with the position."""
    try:
        return parse_unchecked(text)
    except ExpressionSyntaxError as exc:
        raise expression_error(text, exc, location) from None


def expression_error(text: str, error: ExpressionSyntaxError, location: str) -> NhValidationError:
    shown = text if len(text) <= 60 else text[:57] + "..."
    message = f"invalid expression {shown!r} at character {error.position}: {error.message}"
    return NhValidationError(f"invalid template: {message}", [FieldError(location, message)])


def evaluate_expression(expression: TemplateExpression, properties: Mapping[str, str]) -> str:
    """Render an expression to text. Property names match case-insensitively; a missing one is its default or ""."""
    lookup = property_lookup(properties)
    return "".join(term_text(term, lookup) for term in expression.terms)


def property_lookup(properties: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in properties.items()}


def term_text(term: PropertyTerm | LiteralTerm, lookup: Mapping[str, str]) -> str:
    if isinstance(term, LiteralTerm):
        return term.text
    value = lookup.get(term.name.lower())
    if value is None:
        value = term.default or ""
    if term.kind == "%":
        return quote(value, safe="")
    if term.length is None or len(value) <= term.length:
        return value
    if term.kind == ".":
        return (value[: max(term.length - 3, 0)] + "...")[: term.length]
    return value[: term.length]
