"""Installation JSON as NH accepts it: validation with the .NET rules, normalisation, and the derived tags."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from local.nh_emulator.wire import EmulatorError
from shared.notification_hubs.errors import NhValidationError
from shared.notification_hubs.expressions import BodyFormat, body_format_for, validate_template
from shared.notification_hubs.identifiers import validate_installation_id, validate_user_id
from shared.notification_hubs.tags import MAX_TAGS_PER_INSTALLATION, validate_installation_tags

__all__ = [
    "PLATFORMS",
    "Installation",
    "native_tags",
    "normalize_installation",
    "template_format",
    "template_tags",
]

Installation = dict[str, Any]
"""The stored installation: its wire JSON, normalised (platform lower-case, template names in template tags)."""

PLATFORMS = frozenset({"apns", "fcmv1", "gcm", "wns", "mpns", "adm", "baidu", "browser", "xiaomi"})
TEMPLATE_NAME_MAX = 200
_DEFAULT_EXPIRATION = "9999-12-31T23:59:59.9999999Z"
_EXPRESSION_START = ("$", ".", "%", "#", "{")
_W3C_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def _invalid(detail: str) -> EmulatorError:
    return EmulatorError(400, detail)


def template_format(platform: str) -> BodyFormat:
    """JSON or XML for template bodies on ``platform``."""
    return body_format_for(platform)


def _string_list(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _invalid(f"{where} must be an array of strings")
    return list(value)


def _string_map(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _invalid(f"{where} must be an object of string values")
    return dict(value)


def _validate_expiry(expiry: str, name: str) -> None:
    if expiry == "0" or expiry.startswith(_EXPRESSION_START) or _W3C_DATE.match(expiry):
        return
    raise _invalid(f"Template '{name}' is invalid: expiry '{expiry}' is neither a date nor an expression")


def _normalize_template(name: str, raw: object, platform: str) -> dict[str, Any]:
    if not name or len(name) > TEMPLATE_NAME_MAX:
        raise _invalid(f"Template name must be 1 to {TEMPLATE_NAME_MAX} characters")
    if not isinstance(raw, dict):
        raise _invalid(f"Template '{name}' is invalid: it must be an object")
    body = raw.get("body")
    if not isinstance(body, str) or not body:
        raise _invalid(f"Template '{name}' is invalid: 'body' is required")
    try:
        validate_template(body, template_format(platform))
    except NhValidationError as exc:
        raise _invalid(f"Template '{name}' is invalid: {exc}") from exc
    template: dict[str, Any] = {"body": body}
    if raw.get("headers") is not None:
        template["headers"] = _string_map(raw["headers"], f"templates.{name}.headers")
    if raw.get("expiry") is not None:
        if not isinstance(raw["expiry"], str):
            raise _invalid(f"Template '{name}' is invalid: expiry must be a string")
        _validate_expiry(raw["expiry"], name)
        template["expiry"] = raw["expiry"]
    tags = _string_list(raw.get("tags") or [], f"templates.{name}.tags")
    if name not in tags:
        tags.append(name)  # NH adds the template name itself (recorded GET responses show it)
    template["tags"] = tags
    return template


def normalize_installation(
    raw: object, installation_id: str, *, max_tags: int = MAX_TAGS_PER_INSTALLATION
) -> Installation:
    """Validate an installation body for ``installation_id`` and return the form the emulator stores.

    Raises EmulatorError (400) naming the first field at fault.
    """
    if not isinstance(raw, dict):
        raise _invalid("The installation must be a JSON object")
    try:
        validate_installation_id(installation_id)
    except NhValidationError as exc:
        raise _invalid(f"Invalid installation id: {exc}") from exc
    body_id = raw.get("installationId")
    if body_id is not None and body_id != installation_id:
        raise _invalid("installationId in the body does not match the one in the URI")
    platform = raw.get("platform")
    if not isinstance(platform, str) or platform.lower() not in PLATFORMS:
        raise _invalid(f"Invalid platform '{platform}'; expected one of {', '.join(sorted(PLATFORMS))}")
    platform = platform.lower()
    channel = raw.get("pushChannel")
    if isinstance(channel, dict) and platform == "browser":
        channel = json.dumps(channel, separators=(",", ":"))  # JS sends an object, .NET/Java a JSON string
    if not isinstance(channel, str) or not channel:
        raise _invalid("pushChannel is required")
    result: Installation = {"installationId": installation_id, "pushChannel": channel, "platform": platform}
    if raw.get("userId") is not None:
        if not isinstance(raw["userId"], str):
            raise _invalid("userId must be a string")
        try:
            validate_user_id(raw["userId"])
        except NhValidationError as exc:
            raise _invalid(f"Invalid userId: {exc}") from exc
        result["userId"] = raw["userId"]
    tags = _string_list(raw.get("tags") or [], "tags")
    try:
        validate_installation_tags(tags, max_tags=max_tags)
    except NhValidationError as exc:
        raise _invalid(str(exc)) from exc
    if tags:
        result["tags"] = tags
    templates = raw.get("templates") or {}
    if not isinstance(templates, dict):
        raise _invalid("templates must be an object")
    if templates:
        result["templates"] = {name: _normalize_template(name, t, platform) for name, t in templates.items()}
    if raw.get("pushVariables"):
        result["pushVariables"] = _string_map(raw["pushVariables"], "pushVariables")
    if raw.get("secondaryTiles"):
        result["secondaryTiles"] = raw["secondaryTiles"]
    # Read-only fields (pushChannelExpired, expirationTime, lastActiveOn, lastUpdate) are accepted, also as
    # null, and ignored, as NH does; a new registration starts with a live channel.
    result["pushChannelExpired"] = False
    result["expirationTime"] = _DEFAULT_EXPIRATION
    return result


def native_tags(installation: Mapping[str, Any]) -> list[str]:
    """Tags of the installation's native registration: system tags plus its own tags."""
    tags = [f"$InstallationId:{{{installation['installationId']}}}"]
    if installation.get("userId"):
        tags.append(f"$UserId:{{{installation['userId']}}}")
    return tags + list(installation.get("tags", []))


def template_tags(installation: Mapping[str, Any], name: str) -> list[str]:
    """Tags of one template registration: the native tags, the template name and the template's own tags."""
    template = installation["templates"][name]
    return native_tags(installation) + [tag for tag in template.get("tags", []) if tag != name] + [name]
