"""The catalog CI check: every entry x language x platform x template renders a complete payload within PNS limits.

Runs each catalog example, and a worst case where every free-text field is at its maximum length in
four-byte characters, through plan_notification and the NH template renderer the emulator uses.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.domain.catalog import CATALOG, CatalogEntry, example_cloud_event
from shared.domain.device_templates import PAYLOAD_LIMITS, TEMPLATE_NAMES, templates_for
from shared.domain.events import parse_cloud_event
from shared.domain.languages import SUPPORTED_LANGUAGES
from shared.domain.notification_plan import NotificationPlan, plan_notification
from shared.domain.records import Platform
from shared.notification_hubs.expressions import body_format_for
from shared.notification_hubs.rendering import render_template
from shared.notification_hubs.tag_expressions import parse_tag_expression

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
_FIXED = {"currency", "decision", "trackingUrl", "estimatedDelivery", "amount", "total"}


def _worst_case(entry: CatalogEntry) -> dict[str, Any]:
    """Every free-text field at its schema maximum, in characters that take 4 bytes in UTF-8."""
    schema = entry.payload.model_json_schema(by_alias=True)["properties"]
    data = dict(entry.example)
    for name, spec in schema.items():
        if name not in _FIXED and "maxLength" in spec:
            data[name] = "\U0001f680" * spec["maxLength"]
    data["amount" if "amount" in data else "total"] = "99999999999999.9999"
    return data


def _cases() -> list[Any]:
    cases = []
    for entry in CATALOG.values():
        for variant, data in (("example", dict(entry.example)), ("worst", _worst_case(entry))):
            cases.append(pytest.param(entry, data, id=f"{entry.event_type}-{variant}"))
    return cases


def _plan(entry: CatalogEntry, data: dict[str, Any]) -> NotificationPlan:
    cloud_event = {**example_cloud_event(entry), "id": "e" * 128, "data": data}
    event = parse_cloud_event(json.dumps(cloud_event).encode(), None)
    plan = plan_notification(event, None, NOW)
    assert isinstance(plan, NotificationPlan), plan
    return plan


def _title_and_body(platform: Platform, template: str, rendered: str) -> tuple[str, str]:
    if platform is Platform.WNS:
        root = ET.fromstring(rendered)  # noqa: S314 -- our own renderer's output
        if template == "alert":
            texts = root.findall("visual/binding/text")
            return texts[0].text or "", texts[1].text or ""
        return root.findtext("title") or "", root.findtext("body") or ""
    payload = json.loads(rendered)
    if platform is Platform.APNS:
        source = payload["aps"]["alert"] if template == "alert" else payload
    else:
        message = payload["message"]
        source = message["notification"] if template == "alert" else message["data"]
    return source["title"], source["body"]


@pytest.mark.parametrize(("entry", "data"), _cases())
def test_every_catalog_entry_renders_on_every_device_within_limits(entry: CatalogEntry, data: dict[str, Any]) -> None:
    plan = _plan(entry, data)
    parse_tag_expression(plan.audience)
    for language in SUPPORTED_LANGUAGES:
        assert plan.properties[f"title_{language}"].strip(), f"{entry.event_type}: empty title in {language}"
        assert plan.properties[f"body_{language}"].strip(), f"{entry.event_type}: empty body in {language}"
        for platform in Platform:
            templates = templates_for(platform, language)
            for name in TEMPLATE_NAMES:
                rendered = render_template(templates[name].body, body_format_for(platform), plan.properties)
                where = f"{entry.event_type} {language} {platform} {name}"
                size = len(rendered.encode("utf-8"))
                assert size <= PAYLOAD_LIMITS[platform], f"{where}: {size} bytes"
                title, body = _title_and_body(platform, name, rendered)
                assert title.strip(), f"{where}: empty title"
                assert body.strip(), f"{where}: empty body"


def test_quiet_hours_audience_is_a_valid_tag_expression() -> None:
    """Every audience a plan can produce (alert or silent, user or topic) parses within NH's expression limits."""
    for entry in CATALOG.values():
        plan = _plan(entry, dict(entry.example))
        for template in TEMPLATE_NAMES:
            parse_tag_expression(plan.audience.rsplit(" && ", 1)[0] + f" && {template}")
