"""A campaign's text: checks before sending, the properties it sends, and secure-payload mode."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.domain.campaign_content import campaign_properties, check_content
from shared.domain.campaigns import CampaignContent
from shared.domain.catalog import CATALOG, catalog_document, example_cloud_event
from shared.domain.device_templates import collapse_id, templates_for
from shared.domain.errors import ValidationError
from shared.domain.events import event_key, notification_id, parse_cloud_event
from shared.domain.notification_plan import NotificationPlan, plan_notification, send_properties
from shared.domain.records import Platform
from shared.domain.secure_payload import NEUTRAL_MESSAGES, inbox_link
from shared.notification_hubs.expressions import body_format_for
from shared.notification_hubs.rendering import render_template

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def content(**changes) -> CampaignContent:
    values = {
        "titles": {"en": "Outage", "es": "Interrupción"},
        "bodies": {"en": "Payments are down until 14:00.", "es": "Los pagos no funcionan hasta las 14:00."},
        "default_language": "en",
        "deep_link": "enterprisepush://status",
    }
    values.update(changes)
    return CampaignContent(**values)


def errors_of(value: CampaignContent) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        check_content(value)
    return {error.location: error.message for error in caught.value.errors}


class TestCheckContent:
    def test_a_good_campaign_passes(self):
        check_content(content())

    def test_unsupported_languages_are_named(self):
        assert "not a supported language" in errors_of(content(titles={"en": "x", "fr": "y"}))["/title/fr"]

    def test_the_default_language_needs_a_text(self):
        assert "default language" in errors_of(content(default_language="es", titles={"en": "x"}))["/title"]

    def test_texts_longer_than_devices_show_are_refused(self):
        problems = errors_of(content(titles={"en": "x" * 81}, bodies={"en": "y" * 301}))
        assert "at most 80" in problems["/title/en"]
        assert "at most 300" in problems["/body/en"]

    def test_blank_texts_are_refused(self):
        assert errors_of(content(bodies={"en": "   "}))["/body/en"] == "must not be blank"

    def test_template_placeholders_are_refused_because_nothing_fills_them(self):
        assert "placeholders" in errors_of(content(bodies={"en": "Hello $(firstName)"}))["/body/en"]

    def test_the_rendered_payload_of_every_platform_fits_its_limit(self):
        """Every template clips text, so the link is what could overflow: a 4 KB link makes APNs and FCM refuse."""
        with pytest.raises(ValidationError) as caught:
            check_content(content(deep_link="https://example.com/" + "a" * 4000))
        refused = {error.message.split()[1] for error in caught.value.errors if error.location == "/"}
        assert refused == {"apns", "fcmv1"}  # WNS allows 5 KB


class TestProperties:
    def test_missing_languages_fall_back_to_the_default(self):
        properties = campaign_properties("c1", content())
        assert (properties["title_en"], properties["title_es"], properties["title_de"]) == (
            "Outage", "Interrupción", "Outage",
        )  # fmt: skip
        assert properties["eventId"] == "c1"
        assert properties["collapseId"] == collapse_id("c1")  # a copy sent twice replaces the first on the device
        assert properties["deepLink"] == "enterprisepush://status"

    @pytest.mark.parametrize("platform", list(Platform))
    def test_each_platform_renders_the_text_in_its_language(self, platform):
        properties = campaign_properties("c1", content())
        rendered = render_template(
            templates_for(platform, "es")["alert"].body, body_format_for(platform.value), properties
        )
        assert "Interrupción" in rendered

    def test_a_plain_campaign_names_no_inbox_entry_since_it_keeps_none(self):
        properties = campaign_properties("c1", content())
        assert (properties["eventId"], properties["notificationId"]) == ("c1", "")
        check_content(content())  # every template variable is sent, the empty one too

    def test_a_sensitive_campaign_sends_only_neutral_text_the_id_and_the_inbox_link(self):
        properties = campaign_properties("c1", content(sensitive=True))
        text = json.dumps(properties, ensure_ascii=False)
        assert "Outage" not in text
        assert "Interrupción" not in text
        assert "enterprisepush://status" not in text
        assert properties["title_de"] == NEUTRAL_MESSAGES["de"].title
        assert properties["eventId"] == properties["notificationId"] == "c1"  # its content is in each inbox
        assert properties["collapseId"] == collapse_id("c1")
        assert properties["deepLink"] == inbox_link("c1") == "enterprisepush://notifications/c1"


_DEBIT_NOTIFICATION = notification_id(event_key("/lob/accounts", "evt-7f3a"))


def _debit(**data) -> NotificationPlan:
    event = example_cloud_event(CATALOG["accounts.debit.posted"])
    event["id"] = "evt-7f3a"
    event["data"].update(data)
    plan = plan_notification(parse_cloud_event(json.dumps(event).encode(), None), None, NOON)
    assert isinstance(plan, NotificationPlan)
    return plan


class TestSecureCatalogEntries:
    def test_debit_alerts_are_sensitive_by_default_and_documented_as_such(self):
        sensitive = {entry["type"]: entry["sensitive"] for entry in catalog_document()["events"]}
        assert sensitive["accounts.debit.posted"] is True
        assert sensitive["finance.budget_approval.requested"] is False

    def test_only_entries_addressed_to_one_user_are_sensitive(self):
        assert all(entry.recipient_field is not None for entry in CATALOG.values() if entry.sensitive)

    def test_a_debit_push_carries_neutral_text_and_its_ids_only(self):
        plan = _debit(merchant="Casino Royale", amount="999.00")
        pushed = json.dumps(plan.properties, ensure_ascii=False)
        assert "Casino Royale" not in pushed
        assert "999" not in pushed
        assert "accounts" not in pushed
        assert (plan.properties["eventId"], plan.properties["notificationId"]) == ("evt-7f3a", _DEBIT_NOTIFICATION)
        assert plan.properties["deepLink"] == f"enterprisepush://notifications/{_DEBIT_NOTIFICATION}"
        assert {plan.properties[f"body_{lang}"] for lang in ("en", "de", "es")} == {
            message.body for message in NEUTRAL_MESSAGES.values()
        }

    def test_the_debit_content_goes_to_the_owners_inbox_in_every_language(self):
        plan = _debit(merchant="Casino Royale", amount="999.00", currency="EUR")
        assert plan.secure_item is not None
        assert plan.secure_item.user_id == "s.brown"
        assert plan.secure_item.notification_id == _DEBIT_NOTIFICATION
        assert "Casino Royale" in plan.secure_item.bodies["en"]
        assert "999,00" in plan.secure_item.bodies["de"]
        assert plan.secure_item.deep_link == "enterprisepush://accounts/ACC-88120"

    def test_events_that_are_not_sensitive_push_their_text(self):
        event = example_cloud_event(CATALOG["finance.budget_approval.requested"])
        parsed = parse_cloud_event(json.dumps(event).encode(), None)
        plan = plan_notification(parsed, None, NOON)
        assert isinstance(plan, NotificationPlan)
        assert plan.secure_item is None
        assert plan.properties == send_properties(parsed) | {"notificationId": parsed.notification_id}
