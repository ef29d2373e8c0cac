"""What a LoB event's ``data`` may say beyond its payload model: where it may link, and that text holds no address.

Per event type, generated from the same data for the server's check and for the published schema:

- A link field (a catalog field named like one: ``trackingUrl``) holds a link under one of its system's allowlist
  prefixes (``links.LINK_ALLOWLIST``), as the pattern ``link_policy.link_pattern`` builds from them (only the
  prefixes the field's own type admits: ``https://`` ones for an https URL).
- Every other free text field (a plain string) holds no address at all (``scheme://``): links go in the link
  fields. Amounts, dates and enumerations cannot hold one anyway.
- Fields the catalog does not name are ignored: the payload models drop them, so they never reach a device, an
  inbox or a page (the push, in-app and inbox paths render from the validated payload only).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic.json_schema import DEFAULT_REF_TEMPLATE

from shared.domain.catalog.entries import CatalogEntry
from shared.domain.catalog.links import LINK_ALLOWLIST
from shared.domain.catalog.payloads import LobPayload
from shared.domain.catalog.wire_types import python_regex
from shared.domain.errors import FieldError
from shared.domain.link_policy import ADDRESS_PATTERN, is_link_field, link_pattern

__all__ = ["data_problems", "data_schema", "link_fields"]

_ADDRESS = re.compile(ADDRESS_PATTERN)


def link_fields(entry: CatalogEntry) -> tuple[str, ...]:
    """The wire names of the type's link fields."""
    return tuple(name for name in _field_names(entry) if is_link_field(name))


def data_schema(entry: CatalogEntry, ref_template: str | None = None) -> dict[str, Any]:
    """The JSON Schema of the type's ``data``: its payload model's, with the link and address rules stated."""
    schema = entry.payload.model_json_schema(by_alias=True, ref_template=ref_template or DEFAULT_REF_TEMPLATE)
    patterns = _link_patterns(entry)
    for name, field in schema["properties"].items():
        if name in patterns:
            pattern = patterns[name]
            if pattern is None:
                field["not"] = {}  # the system may not link anywhere
            else:
                field["pattern"] = pattern
            field["description"] = f"a link under one of {', '.join(_prefixes(entry, name))}"
        elif name in _text_fields(entry.payload):
            field["not"] = {"pattern": ADDRESS_PATTERN, "description": "no addresses (scheme://) in text"}
    return schema


def data_problems(entry: CatalogEntry, data: dict[str, Any]) -> list[FieldError]:
    """One FieldError per catalog field of ``data`` (already valid for the payload model) that breaks a rule."""
    patterns = _link_patterns(entry)
    errors: list[FieldError] = []
    for name in _field_names(entry):
        value = data.get(name)
        if not isinstance(value, str):
            continue
        where = f"/data/{name}"
        if name in patterns:
            pattern = patterns[name]
            if pattern is None or not _compiled(pattern).search(value):
                allowed = ", ".join(_prefixes(entry, name)) or "nothing (this system may not link anywhere)"
                errors.append(FieldError(where, f"{_shown(value)} is not a link this system may send: under {allowed}"))
        elif name in _text_fields(entry.payload) and _ADDRESS.search(value):
            where_links = ", ".join(patterns) or "none: this event type carries no links"
            errors.append(
                FieldError(where, f"no addresses (scheme://) in text; put links in the link fields ({where_links})")
            )
    return errors


def _link_patterns(entry: CatalogEntry) -> dict[str, str | None]:
    return {name: _pattern(_prefixes(entry, name)) for name in link_fields(entry)}


def _prefixes(entry: CatalogEntry, name: str) -> tuple[str, ...]:
    """The system's prefixes the field's own type admits (an https URL field: the https ones)."""
    own = _own_pattern(entry.payload, name)
    prefixes = LINK_ALLOWLIST.get(entry.topic, ())
    return tuple(prefix for prefix in prefixes if own is None or python_regex(own).search(prefix))


@cache
def _text_fields(payload: type[LobPayload]) -> frozenset[str]:
    """The free text fields: plain strings (not an enum, an amount or a date, which cannot hold an address)."""
    properties = payload.model_json_schema(by_alias=True)["properties"]
    return frozenset(
        name
        for name, field in properties.items()
        if field.get("type") == "string" and "enum" not in field and not is_link_field(name)
    )


@cache
def _own_pattern(payload: type[LobPayload], name: str) -> str | None:
    pattern: str | None = payload.model_json_schema(by_alias=True)["properties"][name].get("pattern")
    return pattern


@cache
def _pattern(prefixes: tuple[str, ...]) -> str | None:
    return link_pattern(prefixes)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return python_regex(pattern)


def _field_names(entry: CatalogEntry) -> list[str]:
    return [field.alias or name for name, field in entry.payload.model_fields.items()]


def _shown(value: str) -> str:
    return repr(value if len(value) <= 120 else value[:117] + "...")
