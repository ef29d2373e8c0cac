"""plan_notification: audience, template and localized properties for every event type."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

import pytest

from shared.domain.catalog import CATALOG, example_cloud_event
from shared.domain.device_templates import collapse_id
from shared.domain.events import LobEvent, parse_cloud_event
from shared.domain.notification_plan import NotificationPlan, Skip, plan_notification, recipient_user_id
from shared.domain.records import Preferences, QuietHours
from shared.notification_hubs.tag_expressions import parse_tag_expression

NOON = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
MIDNIGHT = datetime(2025, 3, 10, 23, 30, tzinfo=UTC)
NIGHT = QuietHours(start=time(22, 0), end=time(7, 0), time_zone="UTC")


def _event(event_type: str, event_id: str | None = None, **data: Any) -> LobEvent:
    cloud_event = example_cloud_event(CATALOG[event_type])
    cloud_event["data"].update(data)
    if event_id is not None:
        cloud_event["id"] = event_id
    return parse_cloud_event(json.dumps(cloud_event).encode(), None)


def _plan(event: LobEvent, recipient: Preferences | None = None, now: datetime = NOON) -> NotificationPlan:
    plan = plan_notification(event, recipient, now)
    assert isinstance(plan, NotificationPlan)
    return plan


EXPECTED = {
    "hr.employee.joined": ("(topic:hr) && alert", None),
    "hr.employee.left": ("(topic:hr) && alert", None),
    "hr.employee.team_changed": ("(topic:hr) && alert", None),
    "finance.budget_approval.requested": ("(user:m.keller) && alert", "m.keller"),
    "finance.budget_approval.decided": ("(user:l.garcia) && alert", "l.garcia"),
    "accounts.debit.posted": ("(user:s.brown) && alert", "s.brown"),
    "orders.order.placed": ("(user:c.weber) && silent", "c.weber"),
    "orders.order.confirmed": ("(user:c.weber) && alert", "c.weber"),
    "orders.order.shipped": ("(user:c.weber) && alert", "c.weber"),
    "orders.order.delivered": ("(user:c.weber) && alert", "c.weber"),
    "orders.order.rejected": ("(user:c.weber) && alert", "c.weber"),
}


class TestAudienceAndTemplate:
    @pytest.mark.parametrize(("event_type", "expected"), EXPECTED.items())
    def test_every_event_type_reaches_its_audience_with_its_template(self, event_type, expected):
        audience, recipient = expected
        event = _event(event_type)
        plan = _plan(event)
        assert (plan.audience, plan.recipient_user_id) == expected
        assert recipient_user_id(event) == recipient
        assert plan.template == audience.rsplit(" ", 1)[1]
        parse_tag_expression(plan.audience)

    def test_user_ids_outside_the_tag_charset_are_addressed_by_their_hash(self):
        plan = _plan(_event("orders.order.confirmed", customerId="Jürgen Weber"))
        assert plan.audience.startswith("(userh:")
        assert plan.recipient_user_id == "Jürgen Weber"

    def test_priority_and_ttl_come_from_the_catalog(self):
        plan = _plan(_event("finance.budget_approval.requested"))
        assert (plan.priority, plan.ttl_seconds) == ("high", 72 * 3600)

    def test_preferences_of_another_user_are_refused(self):
        with pytest.raises(ValueError, match="addressed"):
            plan_notification(_event("orders.order.confirmed"), Preferences(user_id="someone-else"), NOON)


class TestQuietHours:
    def test_an_alert_to_a_user_in_quiet_hours_is_sent_silent(self):
        plan = _plan(_event("orders.order.shipped"), Preferences("c.weber", quiet_hours=NIGHT), MIDNIGHT)
        assert (plan.audience, plan.template) == ("(user:c.weber) && silent", "silent")

    def test_the_same_alert_outside_quiet_hours_rings(self):
        plan = _plan(_event("orders.order.shipped"), Preferences("c.weber", quiet_hours=NIGHT), NOON)
        assert plan.template == "alert"

    def test_hr_broadcasts_are_alerts_even_at_night(self):
        assert _plan(_event("hr.employee.joined"), None, MIDNIGHT).template == "alert"


class TestDebitThreshold:
    def test_a_debit_under_the_default_threshold_is_skipped(self):
        assert plan_notification(_event("accounts.debit.posted", amount="99.99"), None, NOON) == Skip(
            "debit_below_threshold"
        )

    def test_a_debit_at_the_default_threshold_is_sent(self):
        assert isinstance(
            plan_notification(_event("accounts.debit.posted", amount="100"), None, NOON), NotificationPlan
        )

    def test_the_owners_threshold_wins(self):
        event = _event("accounts.debit.posted", amount="20")
        assert isinstance(_plan(event, Preferences("s.brown", debit_threshold=Decimal(20))), NotificationPlan)
        low = plan_notification(event, Preferences("s.brown", debit_threshold=Decimal("20.01")), NOON)
        assert isinstance(low, Skip)


class TestProperties:
    def test_carries_every_language_and_the_event_keys_as_strings(self):
        event = _event("finance.budget_approval.requested")
        properties = _plan(event).properties
        assert set(properties) == {
            "title_en",
            "body_en",
            "title_de",
            "body_de",
            "title_es",
            "body_es",
            "eventId",
            "notificationId",
            "collapseId",
            "eventType",
            "deepLink",
            "category",
        }
        assert all(isinstance(value, str) and value for value in properties.values())
        assert properties["eventId"] == event.id
        assert properties["collapseId"] == collapse_id(event.key)
        assert properties["eventType"] == "finance.budget_approval.requested"
        assert properties["deepLink"] == "enterprisepush://finance/approvals/BR-5521"
        assert properties["category"] == "finance.approvals"

    def test_two_systems_events_with_one_id_get_different_collapse_ids(self):
        """The collapse id hashes the event key source#id: one system's event never replaces another's on a device,
        neither in the plain push nor in a secure (sensitive) one."""
        hr, finance, accounts = (
            _plan(_event(event_type, event_id="42"))
            for event_type in ("hr.employee.joined", "finance.budget_approval.requested", "accounts.debit.posted")
        )
        assert accounts.secure_item is not None  # debits are sensitive: the neutral properties carry the id
        assert hr.properties["eventId"] == finance.properties["eventId"] == accounts.properties["eventId"] == "42"
        assert "notificationId" not in hr.properties  # a broadcast makes no inbox entry
        assert finance.properties["notificationId"] != accounts.properties["notificationId"]
        collapse_ids = {plan.properties["collapseId"] for plan in (hr, finance, accounts)}
        assert collapse_ids == {collapse_id(f"/lob/{source}#42") for source in ("hr", "finance", "accounts")}
        assert len(collapse_ids) == 3

    def test_amounts_are_formatted_per_locale(self):
        properties = _plan(_event("finance.budget_approval.requested")).properties
        assert properties["title_en"] == "Approval needed"
        assert properties["body_en"] == "Lucía García requests €1,234.50 for Conference travel."
        assert properties["title_de"] == "Freigabe erforderlich"
        assert properties["body_de"] == "Lucía García beantragt 1.234,50\xa0€ für Conference travel."
        assert properties["body_es"] == "Lucía García solicita 1234,50\xa0€ para Conference travel."

    def test_other_currencies_use_their_symbols(self):
        """Debits are sensitive: their text is what the owner's inbox keeps, one entry per language."""
        inbox = _plan(_event("accounts.debit.posted", amount="12345.6", currency="USD")).secure_item
        assert inbox is not None
        properties = {f"body_{language}": text for language, text in inbox.bodies.items()}
        assert properties["body_en"] == "$12,345.60 paid to Rail Europe."
        assert properties["body_de"] == "12.345,60\xa0$ an Rail Europe gezahlt."
        assert properties["body_es"] == "12.345,60\xa0US$ pagados a Rail Europe."

    @pytest.mark.parametrize(
        ("decision", "title_de", "body_es"),
        [
            ("approved", "Budget genehmigt", "Martin Keller ha aprobado su solicitud de 1234,50\xa0€."),
            ("rejected", "Budget abgelehnt", "Martin Keller ha rechazado su solicitud de 1234,50\xa0€."),
        ],
    )
    def test_the_decision_picks_the_message(self, decision, title_de, body_es):
        properties = _plan(_event("finance.budget_approval.decided", decision=decision)).properties
        assert (properties["title_de"], properties["body_es"]) == (title_de, body_es)

    def test_shipping_dates_are_spelled_out_per_locale(self):
        properties = _plan(_event("orders.order.shipped")).properties
        assert properties["body_en"].endswith("with DHL, due March 14, 2025.")
        assert properties["body_de"].endswith("am 14. März 2025.")
        assert properties["body_es"].endswith("el 14 de marzo de 2025.")

    def test_shipping_without_a_date_leaves_it_out(self):
        properties = _plan(_event("orders.order.shipped", estimatedDelivery=None)).properties
        assert properties["body_en"] == "Your order SO-104233 is on its way with DHL."

    def test_deep_links_encode_ids(self):
        properties = _plan(_event("orders.order.delivered", orderId="SO 1/2?x")).properties
        assert properties["deepLink"] == "enterprisepush://orders/SO%201%2F2%3Fx"
