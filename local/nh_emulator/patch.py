"""PATCH of an installation: the JSON-Patch subset NH supports (add, remove, replace; tags removed by value)."""

from __future__ import annotations

import copy
from typing import Any

from local.nh_emulator.installations import Installation, normalize_installation
from local.nh_emulator.wire import EmulatorError
from shared.domain import strict_json
from shared.notification_hubs.tags import MAX_TAGS_PER_INSTALLATION

__all__ = ["apply_patch"]

_OPS = ("add", "remove", "replace")
_TEMPLATE_FIELDS = ("body", "headers", "expiry", "tags")


def _invalid(detail: str) -> EmulatorError:
    return EmulatorError(400, detail)


def _segments(path: object) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/"):
        raise _invalid(f"Invalid patch path '{path}'")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _json_or_text(value: object) -> object:
    """SDKs send every value as a string; some of them carry JSON (templates, tag arrays, headers)."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return strict_json.loads(value)
        except strict_json.UnsafeJsonError:
            return value
    return value


def _tag_values(value: object) -> list[str]:
    parsed = _json_or_text(value)
    if isinstance(parsed, str):
        return [parsed]
    if isinstance(parsed, list) and all(isinstance(tag, str) for tag in parsed):
        return list(parsed)
    raise _invalid("A tags value must be a tag or an array of tags")


def _apply_tags(owner: dict[str, Any], op: str, rest: list[str], value: object) -> None:
    current: list[str] = list(owner.get("tags") or [])
    if rest:  # /tags/{value}: by value, as production clients use it, not by index
        if op == "remove":
            current = [tag for tag in current if tag != rest[0]]
        else:
            current += [rest[0]] if rest[0] not in current else []
    elif op == "remove":
        current = []
    else:
        added = _tag_values(value)
        current = added if op == "replace" else current + [tag for tag in added if tag not in current]
    if current:
        owner["tags"] = current
    else:
        owner.pop("tags", None)


def _apply_template(installation: dict[str, Any], op: str, rest: list[str], value: object) -> None:
    if not rest or not rest[0]:
        raise _invalid("A template patch path needs a template name")
    templates: dict[str, Any] = installation.setdefault("templates", {})
    name = rest[0]
    if len(rest) == 1:
        if op == "remove":
            templates.pop(name, None)
        else:
            templates[name] = _json_or_text(value)
    else:
        template = templates.get(name)
        field = rest[1]
        if not isinstance(template, dict) or field not in _TEMPLATE_FIELDS:
            raise _invalid(f"Invalid patch path '/templates/{'/'.join(rest)}'")
        if field == "tags":
            _apply_tags(template, op, rest[2:], value)
        elif op == "remove":
            template.pop(field, None)
        else:
            template[field] = _json_or_text(value) if field == "headers" else value
    if not templates:
        installation.pop("templates")


def _apply_one(installation: dict[str, Any], operation: object) -> None:
    if not isinstance(operation, dict) or operation.get("op") not in _OPS:
        raise _invalid("Each patch operation needs an op of add, remove or replace")
    op = operation["op"]
    value = operation.get("value")
    head, *rest = _segments(operation.get("path"))
    if op != "remove" and value is None:
        raise _invalid(f"Patch operation {op} {operation.get('path')} needs a value")
    if head in ("pushChannel", "userId") and not rest:
        if op == "remove":
            if head == "pushChannel":
                raise _invalid("pushChannel cannot be removed")
            installation.pop(head, None)
        else:
            installation[head] = value
    elif head == "tags":
        _apply_tags(installation, op, rest, value)
    elif head == "templates":
        _apply_template(installation, op, rest, value)
    elif head == "pushVariables":
        variables: dict[str, Any] = installation.setdefault("pushVariables", {})
        if rest and op == "remove":
            variables.pop(rest[0], None)
        elif rest:
            variables[rest[0]] = value
        elif op == "remove":
            installation.pop("pushVariables")
        else:
            installation["pushVariables"] = _json_or_text(value)
    else:
        raise _invalid(f"Unsupported patch path '{operation.get('path')}'")


def apply_patch(
    installation: Installation, operations: object, *, max_tags: int = MAX_TAGS_PER_INSTALLATION
) -> Installation:
    """Apply ``operations`` to a copy of ``installation`` and re-validate it.

    Raises EmulatorError (400) for an unsupported path or op, or when the result is not a valid installation.
    """
    if not isinstance(operations, list) or not operations:
        raise _invalid("The patch body must be a non-empty JSON array of operations")
    patched = copy.deepcopy(installation)
    for operation in operations:
        _apply_one(patched, operation)
    result = normalize_installation(patched, installation["installationId"], max_tags=max_tags)
    if result["pushChannel"] == installation["pushChannel"]:
        result["pushChannelExpired"] = installation.get("pushChannelExpired", False)
    return result
