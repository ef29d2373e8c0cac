"""Template bodies in the Notification Hubs expression language: where the expressions sit, and their checks (§6).

A JSON string value, XML attribute value or XML element text is an expression when it starts with one of
``$ . % # {`` (element text after trimming surrounding whitespace); anything else is literal text. The client
validates every template before it registers it (validate_template). The service renders templates at send time;
rendering (shared/notification_hubs/rendering.py) works from the expression sites found here. The language itself
(terms, parser) is ``shared.notification_hubs.expression_language``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal
from xml.parsers import expat

from shared.domain.errors import FieldError
from shared.notification_hubs.errors import NhValidationError
from shared.notification_hubs.expression_language import (
    MAX_PROPERTY_NAME_LENGTH,
    WHITESPACE,
    BodyFormat,
    LiteralTerm,
    PropertyTerm,
    TemplateExpression,
    body_format_for,
    is_expression,
    parse_expression,
)

__all__ = [
    "MAX_PROPERTY_NAME_LENGTH",
    "BodyFormat",
    "JsonExpressionSite",
    "LiteralTerm",
    "PropertyTerm",
    "TemplateExpression",
    "XmlExpressionSite",
    "XmlTemplate",
    "body_format_for",
    "is_expression",
    "json_expression_sites",
    "parse_expression",
    "parse_xml_template",
    "validate_template",
]

_MAX_XML_DEPTH = 100


def validate_template(body: str, body_format: BodyFormat, *, location: str = "body") -> None:
    """Check that ``body`` is well-formed JSON or XML and that every expression in it parses.

    Raises NhValidationError whose FieldError locations extend ``location`` with a JSON pointer or an XML path.
    """
    if body_format is BodyFormat.JSON:
        json_expression_sites(body, location=location)
    else:
        parse_xml_template(body, location=location)


def _invalid_body(location: str, message: str) -> NhValidationError:
    return NhValidationError(f"invalid template: {message}", [FieldError(location, message)])


# JSON: the body is checked with the json module, then scanned for its string values, so that a renderer can
# replace each expression in place and everything else (formatting, key order, duplicate keys, number spellings)
# reaches the device exactly as written.


@dataclass(frozen=True)
class JsonExpressionSite:
    """A JSON string value that is an expression: ``body[start:end]`` is the string literal, quotes included."""

    start: int
    end: int
    expression: TemplateExpression


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


def json_expression_sites(body: str, *, location: str = "body") -> list[JsonExpressionSite]:
    """Every expression among the string values of a JSON template, in document order, each parsed.

    Raises NhValidationError as validate_template does.
    """
    _check_json(body, location)
    return [
        JsonExpressionSite(string.start, string.end, parse_expression(string.value, location=location + string.pointer))
        for string in _json_string_values(body)
        if is_expression(string.value)
    ]


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


# XML: expat checks well-formedness first and refuses any DTD (so no entity expansion is possible); the tree is
# then built with ElementTree, comments and processing instructions kept, so that a renderer can set each
# expression's value on it and serialize it, which escapes every value it writes.


@dataclass(frozen=True)
class XmlExpressionSite:
    """An expression in an XML template: an attribute's value, an element's text, or the text after an element."""

    element: ET.Element
    slot: Literal["attribute", "text", "tail"]
    attribute: str  # the attribute's name when ``slot`` is "attribute", else ""
    expression: TemplateExpression


@dataclass(frozen=True)
class XmlTemplate:
    """A parsed XML template: its tree and every expression site in it, in document order."""

    root: ET.Element
    sites: list[XmlExpressionSite]


class _DoctypeRefused(Exception):
    pass


class _TooDeep(Exception):
    pass


def parse_xml_template(body: str, *, location: str = "body") -> XmlTemplate:
    """Parse an XML template and every expression in it. Raises NhValidationError as validate_template does."""
    root = _parse_xml(body, location)
    sites: list[XmlExpressionSite] = []
    _collect_sites(root, f"{location}/{_local_name(root.tag)}", sites)
    return XmlTemplate(root, sites)


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


def _collect_sites(element: ET.Element, path: str, sites: list[XmlExpressionSite]) -> None:
    for name, value in element.attrib.items():
        if is_expression(value):
            expression = _xml_expression(value, f"{path}/@{_local_name(name)}")
            sites.append(XmlExpressionSite(element, "attribute", name, expression))
    if (text := _expression_text(element.text)) is not None:
        sites.append(XmlExpressionSite(element, "text", "", _xml_expression(text, path)))
    siblings: dict[str, int] = {}
    counts: dict[str, int] = {}
    for child in element:
        if isinstance(child.tag, str):
            counts[child.tag] = counts.get(child.tag, 0) + 1
    for child in element:
        if isinstance(child.tag, str):
            siblings[child.tag] = siblings.get(child.tag, 0) + 1
            suffix = f"[{siblings[child.tag]}]" if counts[child.tag] > 1 else ""
            _collect_sites(child, f"{path}/{_local_name(child.tag)}{suffix}", sites)
        if (tail := _expression_text(child.tail)) is not None:
            sites.append(XmlExpressionSite(child, "tail", "", _xml_expression(tail, path)))


def _expression_text(text: str | None) -> str | None:
    """The expression in element text, surrounding whitespace trimmed; None when the text is literal."""
    if text is None or not is_expression(text.strip(WHITESPACE)):
        return None
    return text.strip(WHITESPACE)


def _xml_expression(text: str, location: str) -> TemplateExpression:
    expression = parse_expression(text, location=location)
    if any(isinstance(term, PropertyTerm) and term.kind == "#" for term in expression.terms):
        message = f"invalid expression {text!r}: '#(…)' is only allowed in JSON templates"
        raise NhValidationError(f"invalid template: {message}", [FieldError(location, message)])
    return expression


def _local_name(tag: str) -> str:
    return tag.rpartition("}")[2]
