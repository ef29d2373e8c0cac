"""The per-platform "alert" and "silent" installation templates."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from shared.domain.device_templates import TEMPLATE_NAMES, collapse_id, templates_for
from shared.domain.errors import ValidationError
from shared.domain.records import Platform
from shared.notification_hubs.expressions import BodyFormat, body_format_for, validate_template
from shared.notification_hubs.models import Installation
from shared.notification_hubs.rendering import render_template
from shared.notification_hubs.validation import validate_installation

PROPS = {
    "title_de": "Titel",
    "body_de": "Text & <mehr>",
    "title_en": "Title",
    "body_en": "Body",
    "eventId": "ev-1",
    "collapseId": "c0ffee0123456789",
    "eventType": "orders.order.shipped",
    "deepLink": "enterprisepush://orders/SO-1?x=1&y=2",
    "category": "orders.status",
}


def _render(platform: Platform, name: str, language: str = "de") -> str:
    template = templates_for(platform, language)[name]
    return render_template(template.body, body_format_for(platform), PROPS)


class TestTemplatesFor:
    @pytest.mark.parametrize("platform", list(Platform))
    @pytest.mark.parametrize("language", ["en", "de", "es"])
    def test_every_platform_gets_an_alert_and_a_silent_template_that_nh_accepts(self, platform, language):
        templates = templates_for(platform, language)
        assert tuple(templates) == TEMPLATE_NAMES
        for template in templates.values():
            validate_template(template.body, body_format_for(platform))
            assert f"title_{language}" in template.body
            assert f"body_{language}" in template.body

    def test_rejects_an_unsupported_language(self):
        with pytest.raises(ValidationError):
            templates_for(Platform.APNS, "fr")

    def test_apns_alert_has_localized_alert_and_event_keys(self):
        payload = json.loads(_render(Platform.APNS, "alert"))
        assert payload["aps"] == {
            "alert": {"title": "Titel", "body": "Text & <mehr>"},
            "sound": "default",
            "thread-id": "orders.status",
        }
        assert payload["eventId"] == "ev-1"
        assert payload["eventType"] == "orders.order.shipped"
        assert payload["deepLink"] == PROPS["deepLink"]
        headers = templates_for(Platform.APNS, "de")["alert"].headers
        assert headers == {"apns-push-type": "alert", "apns-priority": "10", "apns-collapse-id": "$(collapseId)"}

    def test_apns_silent_is_a_background_push(self):
        payload = json.loads(_render(Platform.APNS, "silent"))
        assert payload["aps"] == {"content-available": 1}
        assert payload["eventId"] == "ev-1"
        headers = templates_for(Platform.APNS, "de")["silent"].headers
        assert headers == {"apns-push-type": "background", "apns-priority": "5"}

    def test_fcm_alert_has_notification_and_string_only_data(self):
        message = json.loads(_render(Platform.FCMV1, "alert"))["message"]
        assert message["notification"] == {"title": "Titel", "body": "Text & <mehr>"}
        assert message["android"] == {"priority": "high", "notification": {"tag": "c0ffee0123456789"}}
        assert set(message["data"]) == {"eventId", "notificationId", "eventType", "deepLink", "category"}
        assert all(isinstance(value, str) for value in message["data"].values())

    def test_fcm_silent_is_data_only_with_normal_priority(self):
        message = json.loads(_render(Platform.FCMV1, "silent"))["message"]
        assert "notification" not in message
        assert message["android"] == {"priority": "normal"}
        assert message["data"]["title"] == "Titel"
        assert all(isinstance(value, str) for value in message["data"].values())

    def test_wns_alert_is_a_toast_launching_the_deep_link(self):
        toast = ET.fromstring(_render(Platform.WNS, "alert"))  # noqa: S314 -- our own rendering
        assert toast.tag == "toast"
        assert toast.get("launch") == PROPS["deepLink"]
        binding = toast.find("visual/binding")
        assert binding is not None
        assert binding.get("template") == "ToastGeneric"
        assert [text.text for text in binding.findall("text")] == ["Titel", "Text & <mehr>"]
        assert templates_for(Platform.WNS, "de")["alert"].headers == {
            "X-WNS-Type": "wns/toast",
            "X-WNS-Tag": "$(collapseId)",
        }

    def test_wns_silent_is_a_raw_push_with_an_xml_body(self):
        """NH takes WNS template bodies as XML only, so the raw payload is XML too."""
        assert body_format_for(Platform.WNS) is BodyFormat.XML
        event = ET.fromstring(_render(Platform.WNS, "silent"))  # noqa: S314 -- our own rendering
        assert event.tag == "event"
        assert event.get("deepLink") == PROPS["deepLink"]
        assert event.get("eventId") == "ev-1"
        assert event.findtext("title") == "Titel"
        assert event.findtext("body") == "Text & <mehr>"
        assert templates_for(Platform.WNS, "de")["silent"].headers == {"X-WNS-Type": "wns/raw"}

    def test_long_text_is_clipped_on_the_device_side(self):
        long = dict(PROPS, title_de="T" * 500, body_de="B" * 5000)
        template = templates_for(Platform.APNS, "de")["alert"]
        alert = json.loads(render_template(template.body, BodyFormat.JSON, long))["aps"]["alert"]
        assert len(alert["title"]) <= 80
        assert alert["title"].endswith("...")
        assert len(alert["body"]) <= 300


class TestAgainstTheNhClient:
    @pytest.mark.parametrize("platform", list(Platform))
    def test_an_installation_with_these_templates_passes_the_client_validator(self, platform):
        installation = Installation(
            installation_id="inst-1",
            platform=platform.value,
            push_channel="channel",
            user_id="alice",
            tags=["user:alice"],
            templates=templates_for(platform, "es"),
        )
        validate_installation(installation)


class TestCollapse:
    """A push sent twice (a lost answer, a crash) replaces the first notification on the device instead of adding
    one; different events never replace each other."""

    def test_each_alert_carries_the_collapse_id_on_every_platform(self):
        properties = {**PROPS, "collapseId": collapse_id("0b5e6f1c-5d8f-4a56-9d1f-3c1d2e4f5a6b")}
        apns = templates_for(Platform.APNS, "en")["alert"].headers["apns-collapse-id"]
        wns = templates_for(Platform.WNS, "en")["alert"].headers["X-WNS-Tag"]
        fcm = json.loads(templates_for(Platform.FCMV1, "en")["alert"].body)["message"]["android"]["notification"]["tag"]
        rendered = {render_template(f'"{h}"', BodyFormat.JSON, properties).strip('"') for h in (apns, fcm, wns)}
        assert rendered == {properties["collapseId"]}

    def test_the_collapse_id_is_the_same_for_every_send_of_one_event(self):
        assert collapse_id("evt-1") == collapse_id("evt-1")

    def test_events_whose_ids_share_a_long_prefix_get_different_collapse_ids(self):
        """A WNS tag holds 16 characters: the id's first 16 would make these two events replace each other."""
        first, second = "evt-2026-11-22T10:15:01Z-0001", "evt-2026-11-22T10:15:01Z-0002"
        assert collapse_id(first) != collapse_id(second)

    @pytest.mark.parametrize("event_id", ["x", "ü" * 128, "a" * 128])
    def test_the_collapse_id_fits_every_platform_limit(self, event_id):
        """WNS tags: at most 16 characters; apns-collapse-id: at most 64 bytes."""
        value = collapse_id(event_id)
        assert len(value) == 16
        assert len(value.encode()) <= 64
        assert value.isalnum()
