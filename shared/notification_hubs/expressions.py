"""The Notification Hubs template expression language: parse, validate and render JSON and XML bodies (NH-REST §6).

A JSON string value, XML attribute value or XML element text is an expression when it starts with one of
``$ . % # {`` (element text after trimming surrounding whitespace); anything else is literal text.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, NoReturn
from urllib.parse import quote
from xml.parsers import expat

from shared.errors import FieldError
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
    "render_template",
    "validate_template",
]

MAX_PROPERTY_NAME_LENGTH = 120
# Not from NH: bounds nesting so hostile bodies fail validation instead of exhausting the stack.
_MAX_XML_DEPTH = 100
_MAX_LENGTH_DIGITS = 9
_EXPRESSION_STARTS = frozenset("$.%#{")
_PROPERTY_NAME = re.compile(r"[A-Za-z0-9_]+")
# The JavaScript number shape from the NH docs; deliberately without a sign.
_JS_NUMBER = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_WHITESPACE = " \t\r\n"
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


class _ExpressionError(Exception):
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
            raise _ExpressionError("'#(…)' cannot be concatenated with other terms", 1)
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
                raise _ExpressionError(f"the literal opened at character {start + 1} is not closed", start + 1)
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
            raise _ExpressionError("a property name is missing", start + 1)
        if _PROPERTY_NAME.fullmatch(name) is None:
            raise _ExpressionError(f"property name {name!r} may contain only letters, digits and '_'", start + 1)
        if len(name) > MAX_PROPERTY_NAME_LENGTH:
            raise _ExpressionError(f"property names may have at most {MAX_PROPERTY_NAME_LENGTH} characters", start + 1)
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
                raise _ExpressionError("the default value is not closed with '}'", start + 1)
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
            raise _ExpressionError("the length is too large", start + 1)
        self._skip_whitespace()
        return int(digits)

    def _peek(self) -> str:
        return self._text[self._index : self._index + 1]

    def _found(self) -> str:
        char = self._peek()
        return " at the end" if not char else f", found {char!r}"

    def _skip_whitespace(self) -> None:
        while self._peek() and self._peek() in _WHITESPACE:
            self._index += 1

    def _fail(self, message: str) -> NoReturn:
        raise _ExpressionError(message, self._index + 1)


def _parse(text: str) -> TemplateExpression:
    return _ExpressionParser(text).parse()


def parse_expression(text: str, *, location: str = "expression") -> TemplateExpression:
    """Parse one expression (``text`` must satisfy ``is_expression``); raises NhValidationError with the position."""
    try:
        return _parse(text)
    except _ExpressionError as exc:
        raise _expression_error(text, exc, location) from None


def _expression_error(text: str, error: _ExpressionError, location: str) -> NhValidationError:
    shown = text if len(text) <= 60 else text[:57] + "..."
    message = f"invalid expression {shown!r} at character {error.position}: {error.message}"
    return NhValidationError(f"invalid template: {message}", [FieldError(location, message)])


def evaluate_expression(expression: TemplateExpression, properties: Mapping[str, str]) -> str:
    """Render an expression to text. Property names match case-insensitively; a missing one is its default or ""."""
    lookup = _lookup(properties)
    return "".join(_term_text(term, lookup) for term in expression.terms)


def _lookup(properties: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in properties.items()}


def _term_text(term: PropertyTerm | LiteralTerm, lookup: Mapping[str, str]) -> str:
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


# --- bodies ----------------------------------------------------------------------------------------------------


def validate_template(body: str, body_format: BodyFormat, *, location: str = "body") -> None:
    """Check that ``body`` is well-formed JSON or XML and that every expression in it parses.

    Raises NhValidationError whose FieldError locations extend ``location`` with a JSON pointer or an XML path.
    """
    _process(body, body_format, None, location)


def render_template(
    body: str, body_format: BodyFormat, properties: Mapping[str, str], *, location: str = "body"
) -> str:
    """Replace every expression in ``body`` with its value, keeping the document well-formed.

    JSON values are JSON-escaped; a string value that is exactly ``#(p)`` becomes a bare number when the value
    looks like a JS number. XML values are escaped by the serializer, characters XML cannot carry become U+FFFD.
    Raises NhValidationError as validate_template does.
    """
    return _process(body, body_format, _lookup(properties), location)


def _process(body: str, body_format: BodyFormat, lookup: Mapping[str, str] | None, location: str) -> str:
    if body_format is BodyFormat.JSON:
        return _process_json(body, lookup, location)
    return _process_xml(body, lookup, location)


def _compile(text: str, location: str) -> TemplateExpression:
    try:
        return _parse(text)
    except _ExpressionError as exc:
        raise _expression_error(text, exc, location) from None


def _invalid_body(location: str, message: str) -> NhValidationError:
    return NhValidationError(f"invalid template: {message}", [FieldError(location, message)])


# JSON: the body is checked with the json module, then rewritten in place so that everything that is not an
# expression (formatting, key order, duplicate keys, number spellings) reaches the device exactly as written.


@dataclass
class _JsonFrame:
    is_object: bool
    key: str = ""
    index: int = 0


@dataclass(frozen=True)
class _JsonString:
    pointer: str
    start: int
    end: int
    value: str


def _process_json(body: str, lookup: Mapping[str, str] | None, location: str) -> str:
    _check_json(body, location)
    pieces: list[str] = []
    cursor = 0
    for string in _json_string_values(body):
        if not is_expression(string.value):
            continue
        where = location + string.pointer
        expression = _compile(string.value, where)
        if lookup is None:
            continue
        pieces.append(body[cursor : string.start])
        pieces.append(_render_json_value(expression, lookup))
        cursor = string.end
    if lookup is None:
        return body
    pieces.append(body[cursor:])
    return "".join(pieces)


def _check_json(body: str, location: str) -> None:
    def refuse_constant(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    try:
        json.loads(body, parse_constant=refuse_constant)
    except json.JSONDecodeError as exc:
        message = f"not well-formed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        raise _invalid_body(location, message) from None
    except ValueError as exc:
        raise _invalid_body(location, f"not well-formed JSON: {exc}") from None
    except RecursionError:
        raise _invalid_body(location, "not usable JSON: nested too deeply") from None


def _json_string_values(text: str) -> Iterator[_JsonString]:
    """Yield every string that is a value (not a key) in well-formed JSON, with its JSON pointer and span."""
    stack: list[_JsonFrame] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == '"':
            end = _json_string_end(text, index)
            value: str = json.loads(text[index:end])
            after = end
            while after < len(text) and text[after] in _WHITESPACE:
                after += 1
            if stack and stack[-1].is_object and text[after : after + 1] == ":":
                stack[-1].key = value
            else:
                yield _JsonString(_pointer(stack), index, end, value)
            index = end
            continue
        if char in "{[":
            stack.append(_JsonFrame(is_object=char == "{"))
        elif char in "}]":
            stack.pop()
        elif char == "," and stack and not stack[-1].is_object:
            stack[-1].index += 1
        index += 1


def _json_string_end(text: str, start: int) -> int:
    index = start + 1
    while text[index] != '"':
        index += 2 if text[index] == "\\" else 1
    return index + 1


def _pointer(stack: list[_JsonFrame]) -> str:
    parts = (
        frame.key.replace("~", "~0").replace("/", "~1") if frame.is_object else str(frame.index) for frame in stack
    )
    return "".join(f"/{part}" for part in parts)


def _render_json_value(expression: TemplateExpression, lookup: Mapping[str, str]) -> str:
    text = "".join(_term_text(term, lookup) for term in expression.terms)
    if expression.is_number and _JS_NUMBER.fullmatch(text):
        return text
    encoded = json.dumps(text, ensure_ascii=False)
    # Lone surrogates cannot be encoded as UTF-8; as \u escapes they stay valid JSON.
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", encoded)


# XML: expat checks well-formedness first and refuses any DTD (so no entity expansion is possible); the tree is
# then built with ElementTree, rewritten and serialized, which escapes every value it writes.


class _DoctypeRefused(Exception):
    pass


class _TooDeep(Exception):
    pass


def _process_xml(body: str, lookup: Mapping[str, str] | None, location: str) -> str:
    root = _parse_xml(body, location)
    _rewrite_element(root, f"{location}/{_local_name(root.tag)}", lookup)
    if lookup is None:
        return body
    return ET.tostring(root, encoding="unicode")


def _parse_xml(body: str, location: str) -> ET.Element:
    checker = expat.ParserCreate()
    depth = 0

    def refuse(*_: object) -> None:
        raise _DoctypeRefused

    def start(*_: object) -> None:
        nonlocal depth
        depth += 1
        if depth > _MAX_XML_DEPTH:
            raise _TooDeep

    def end(*_: object) -> None:
        nonlocal depth
        depth -= 1

    checker.StartDoctypeDeclHandler = refuse
    checker.EntityDeclHandler = refuse
    checker.StartElementHandler = start
    checker.EndElementHandler = end
    try:
        checker.Parse(body, True)
    except expat.ExpatError as exc:
        reason = expat.errors.messages[exc.code]
        message = f"not well-formed XML: {reason} at line {exc.lineno} column {exc.offset + 1}"
        raise _invalid_body(location, message) from None
    except _DoctypeRefused:
        raise _invalid_body(location, "XML templates must not contain a DOCTYPE or entity declarations") from None
    except _TooDeep:
        raise _invalid_body(location, f"XML nested deeper than {_MAX_XML_DEPTH} elements") from None
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))  # noqa: S314 - checked above
    parser.feed(body)
    return parser.close()


def _rewrite_element(element: ET.Element, path: str, lookup: Mapping[str, str] | None) -> None:
    for name, value in element.attrib.items():
        if is_expression(value):
            element.attrib[name] = _render_xml_value(value, f"{path}/@{_local_name(name)}", lookup)
    element.text = _rewrite_text(element.text, path, lookup)
    siblings: dict[str, int] = {}
    counts: dict[str, int] = {}
    for child in element:
        if isinstance(child.tag, str):
            counts[child.tag] = counts.get(child.tag, 0) + 1
    for child in element:
        if isinstance(child.tag, str):
            siblings[child.tag] = siblings.get(child.tag, 0) + 1
            suffix = f"[{siblings[child.tag]}]" if counts[child.tag] > 1 else ""
            _rewrite_element(child, f"{path}/{_local_name(child.tag)}{suffix}", lookup)
        child.tail = _rewrite_text(child.tail, path, lookup)


def _rewrite_text(text: str | None, path: str, lookup: Mapping[str, str] | None) -> str | None:
    if text is None or not is_expression(text.strip(_WHITESPACE)):
        return text
    return _render_xml_value(text.strip(_WHITESPACE), path, lookup)


def _render_xml_value(text: str, location: str, lookup: Mapping[str, str] | None) -> str:
    expression = _compile(text, location)
    if any(isinstance(term, PropertyTerm) and term.kind == "#" for term in expression.terms):
        message = f"invalid expression {text!r}: '#(…)' is only allowed in JSON templates"
        raise NhValidationError(f"invalid template: {message}", [FieldError(location, message)])
    if lookup is None:
        return text
    rendered = "".join(_term_text(term, lookup) for term in expression.terms)
    return _NOT_XML_CHAR.sub("\ufffd", rendered)


def _local_name(tag: str) -> str:
    return tag.rpartition("}")[2]
