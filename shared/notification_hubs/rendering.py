"""Template rendering as the service does it at send time (NH-REST §6): each expression replaced by its value.

The app renders to check a campaign's payload size per platform before anything is sent; the NH emulator renders
what each device receives.

The client only validates templates; the expression sites come from shared.notification_hubs.expressions, which
checks the body first, so a template that would not register is refused here with the same NhValidationError.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from urllib.parse import quote

from shared.notification_hubs.expressions import (
    BodyFormat,
    LiteralTerm,
    PropertyTerm,
    TemplateExpression,
    json_expression_sites,
    parse_xml_template,
)

__all__ = ["evaluate_expression", "render_template"]

# The JavaScript number shape from the NH docs; deliberately without a sign.
_JS_NUMBER = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_template(
    body: str, body_format: BodyFormat, properties: Mapping[str, str], *, location: str = "body"
) -> str:
    """Replace every expression in ``body`` with its value, keeping the document well-formed.

    JSON values are JSON-escaped; a string value that is exactly ``#(p)`` becomes a bare number when the value
    looks like a JS number. XML values are escaped by the serializer, characters XML cannot carry become U+FFFD.
    Raises NhValidationError as validate_template does.
    """
    lookup = _property_lookup(properties)
    if body_format is BodyFormat.JSON:
        pieces: list[str] = []
        cursor = 0
        for site in json_expression_sites(body, location=location):
            pieces.append(body[cursor : site.start])
            pieces.append(_json_value(site.expression, lookup))
            cursor = site.end
        pieces.append(body[cursor:])
        return "".join(pieces)
    template = parse_xml_template(body, location=location)
    for xml_site in template.sites:
        value = _NOT_XML_CHAR.sub("\ufffd", _text(xml_site.expression, lookup))
        if xml_site.slot == "attribute":
            xml_site.element.attrib[xml_site.attribute] = value
        elif xml_site.slot == "text":
            xml_site.element.text = value
        else:
            xml_site.element.tail = value
    return ET.tostring(template.root, encoding="unicode")


def evaluate_expression(expression: TemplateExpression, properties: Mapping[str, str]) -> str:
    """Render an expression to text. Property names match case-insensitively; a missing one is its default or ""."""
    return _text(expression, _property_lookup(properties))


def _property_lookup(properties: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in properties.items()}


def _text(expression: TemplateExpression, lookup: Mapping[str, str]) -> str:
    return "".join(_term_text(term, lookup) for term in expression.terms)


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


def _json_value(expression: TemplateExpression, lookup: Mapping[str, str]) -> str:
    text = _text(expression, lookup)
    if _is_number(expression) and _JS_NUMBER.fullmatch(text):
        return text
    encoded = json.dumps(text, ensure_ascii=False)
    # Lone surrogates cannot be encoded as UTF-8; as \u escapes they stay valid JSON.
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", encoded)


def _is_number(expression: TemplateExpression) -> bool:
    """True for a lone ``#(p)``, the only form that may render as a bare JSON number."""
    first = expression.terms[0]
    return not expression.composite and isinstance(first, PropertyTerm) and first.kind == "#"
