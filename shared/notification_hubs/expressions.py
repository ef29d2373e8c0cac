"""Template bodies in the Notification Hubs expression language: validate and render JSON and XML (NH-REST §6).

A JSON string value, XML attribute value or XML element text is an expression when it starts with one of
``$ . % # {`` (element text after trimming surrounding whitespace); anything else is literal text. The language
itself (terms, parser, evaluation) is ``shared.notification_hubs.expression_language``.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from xml.parsers import expat

from shared.domain.errors import FieldError
from shared.notification_hubs.errors import NhValidationError
from shared.notification_hubs.expression_language import (
    MAX_PROPERTY_NAME_LENGTH,
    WHITESPACE,
    BodyFormat,
    ExpressionSyntaxError,
    LiteralTerm,
    PropertyTerm,
    TemplateExpression,
    body_format_for,
    evaluate_expression,
    expression_error,
    is_expression,
    parse_expression,
    parse_unchecked,
    property_lookup,
    term_text,
)

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

_MAX_XML_DEPTH = 100
_JS_NUMBER = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

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
    return _process(body, body_format, property_lookup(properties), location)


def _process(body: str, body_format: BodyFormat, lookup: Mapping[str, str] | None, location: str) -> str:
    if body_format is BodyFormat.JSON:
        return _process_json(body, lookup, location)
    return _process_xml(body, lookup, location)


def _compile(text: str, location: str) -> TemplateExpression:
    try:
        return parse_unchecked(text)
    except ExpressionSyntaxError as exc:
        raise expression_error(text, exc, location) from None


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
            while after < len(text) and text[after] in WHITESPACE:
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
    text = "".join(term_text(term, lookup) for term in expression.terms)
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
    if text is None or not is_expression(text.strip(WHITESPACE)):
        return text
    return _render_xml_value(text.strip(WHITESPACE), path, lookup)


def _render_xml_value(text: str, location: str, lookup: Mapping[str, str] | None) -> str:
    expression = _compile(text, location)
    if any(isinstance(term, PropertyTerm) and term.kind == "#" for term in expression.terms):
        message = f"invalid expression {text!r}: '#(…)' is only allowed in JSON templates"
        raise NhValidationError(f"invalid template: {message}", [FieldError(location, message)])
    if lookup is None:
        return text
    rendered = "".join(term_text(term, lookup) for term in expression.terms)
    return _NOT_XML_CHAR.sub("\ufffd", rendered)


def _local_name(tag: str) -> str:
    return tag.rpartition("}")[2]
