"""Send requests as NH reads them: format header, PNS pass-through headers, tag expression, body checks."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass, field

from local.nh_emulator.wire import EmulatorError
from shared.domain import strict_json
from shared.notification_hubs.errors import NhValidationError
from shared.notification_hubs.tag_expressions import TagExpression, parse_tag_expression

__all__ = ["FORMAT_PLATFORMS", "PLATFORM_FORMATS", "SendRequest", "parse_send"]

FORMAT_PLATFORMS: dict[str, str] = {
    "apple": "apns",
    "fcmv1": "fcmv1",
    "gcm": "gcm",
    "windows": "wns",
    "windowsphone": "mpns",
    "adm": "adm",
    "baidu": "baidu",
    "browser": "browser",
    "xiaomi": "xiaomi",
}
PLATFORM_FORMATS = {platform: name for name, platform in FORMAT_PLATFORMS.items()}
_XML_FORMATS = ("windows", "windowsphone")
_JSON_FORMATS = ("apple", "fcmv1", "gcm", "adm", "browser", "xiaomi")


@dataclass(frozen=True)
class SendRequest:
    """A validated send: ``format`` is ``template`` or a native format name, lower-case."""

    format: str
    body: str
    content_type: str
    pns_headers: dict[str, str]
    tag_expression: str | None
    expression: TagExpression | None
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def platform(self) -> str | None:
        """The installation platform a native send reaches; None for template sends."""
        return FORMAT_PLATFORMS.get(self.format)


def _invalid(detail: str) -> EmulatorError:
    return EmulatorError(400, detail)


def _pns_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers NH forwards to the PNS: apns-*, X-* (WNS, MPNS, Baidu, legacy APNs) and the APNs expiry."""
    return {
        name.lower(): value
        for name, value in headers.items()
        if name.lower().startswith(("apns-", "x-", "servicebusnotification-apns-expiry"))
        and not name.lower().startswith("x-ms-")
    }


def _template_properties(body: str) -> dict[str, str]:
    try:
        parsed = strict_json.loads(body)
    except strict_json.UnsafeJsonError as exc:
        raise _invalid(f"The template notification body is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise _invalid("The template notification body must be a JSON object of property values")
    properties: dict[str, str] = {}
    for name, value in parsed.items():
        if isinstance(value, dict | list):
            raise _invalid(f"Template property '{name}' must be a string, not an object or array")
        if value is not None:
            properties[name] = value if isinstance(value, str) else json.dumps(value)
    return properties


def _check_native_body(send_format: str, body: str, pns_headers: Mapping[str, str]) -> None:
    if send_format in _JSON_FORMATS:
        try:
            parsed = strict_json.loads(body)
        except strict_json.UnsafeJsonError as exc:
            raise _invalid(f"The {send_format} notification body is not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise _invalid(f"The {send_format} notification body must be a JSON object")
        if send_format == "fcmv1" and not isinstance(parsed.get("message"), dict):
            raise _invalid('The fcmv1 notification body must be an FCM v1 envelope {"message": {...}}')
    elif send_format in _XML_FORMATS:
        wns_type = pns_headers.get("x-wns-type")
        if send_format == "windows" and not wns_type:
            raise _invalid("The X-WNS-Type header is required for windows notifications")
        if wns_type == "wns/raw":
            return
        try:
            # Local emulator parsing its own callers' test payloads; no external input reaches it.
            ElementTree.fromstring(body)  # noqa: S314
        except ElementTree.ParseError as exc:
            raise _invalid(f"The {send_format} notification body is not well-formed XML: {exc}") from exc


def parse_send(headers: Mapping[str, str], body: bytes, *, direct: bool) -> SendRequest:
    """Read and validate a send request (tags are ignored for direct sends, as NH does).

    Raises EmulatorError (400) for an unknown format, a malformed body or an invalid tag expression.
    """
    send_format = (headers.get("servicebusnotification-format") or "template").strip().lower()
    if send_format != "template" and send_format not in FORMAT_PLATFORMS:
        raise _invalid(f"The notification format '{send_format}' is not supported")
    if direct and send_format == "template":
        raise _invalid("Direct sends need a native notification format")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid("The notification body is not UTF-8") from exc
    pns_headers = _pns_headers(headers)
    properties = _template_properties(text) if send_format == "template" else {}
    if send_format != "template":
        _check_native_body(send_format, text, pns_headers)
    tag_expression = None if direct else (headers.get("servicebusnotification-tags") or None)
    expression = None
    if tag_expression is not None:
        try:
            expression = parse_tag_expression(tag_expression)
        except NhValidationError as exc:
            raise _invalid(f"Invalid tag expression '{tag_expression}': {exc}") from exc
    return SendRequest(
        format=send_format,
        body=text,
        content_type=headers.get("content-type", ""),
        pns_headers=pns_headers,
        tag_expression=tag_expression,
        expression=expression,
        properties=properties,
    )
