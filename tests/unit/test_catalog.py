"""The event catalog: entries, payload schemas, localized text and the public document."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import ClassVar

import pydantic
import pytest

from shared.domain.catalog import (
    CATALOG,
    MESSAGES,
    catalog_document,
    entry_for,
    format_day,
    format_money,
    localized_message,
)
from shared.domain.catalog.payloads import BudgetApprovalDecided, DebitPosted, OrderShipped
from shared.domain.languages import SUPPORTED_LANGUAGES
from shared.domain.topics import TOPICS

DESIGN_TYPES = {
    "hr.employee.joined": {"employeeId", "displayName", "team"},
    "hr.employee.left": {"employeeId", "displayName"},
    "hr.employee.team_changed": {"employeeId", "displayName", "fromTeam", "toTeam"},
    "finance.budget_approval.requested": {
        "requestId",
        "approverId",
        "requesterId",
        "requesterName",
        "amount",
        "currency",
        "purpose",
    },
    "finance.budget_approval.decided": {"requestId", "requesterId", "approverName", "decision", "amount", "currency"},
    "accounts.debit.posted": {"accountId", "ownerId", "amount", "currency", "merchant"},
    "orders.order.placed": {"orderId", "customerId", "total", "currency"},
    "orders.order.confirmed": {"orderId", "customerId", "total", "currency"},
    "orders.order.shipped": {"orderId", "customerId", "total", "currency", "carrier", "trackingUrl"},
    "orders.order.delivered": {"orderId", "customerId", "total", "currency"},
    "orders.order.rejected": {"orderId", "customerId", "total", "currency", "reason"},
}


class TestCatalogEntries:
    def test_catalog_holds_exactly_the_designed_event_types(self):
        assert set(CATALOG) == set(DESIGN_TYPES)

    @pytest.mark.parametrize("event_type", sorted(DESIGN_TYPES))
    def test_required_fields_match_the_design(self, event_type):
        schema = entry_for(event_type).payload.model_json_schema(by_alias=True)
        assert set(schema["required"]) == DESIGN_TYPES[event_type]

    @pytest.mark.parametrize("entry", CATALOG.values(), ids=list(CATALOG))
    def test_topic_and_source_follow_the_type_prefix(self, entry):
        assert entry.event_type.split(".")[0] == entry.topic
        assert entry.topic in TOPICS
        assert entry.source == f"/lob/{entry.topic}"

    @pytest.mark.parametrize("entry", CATALOG.values(), ids=list(CATALOG))
    def test_every_example_validates_and_every_message_key_exists_in_every_language(self, entry):
        payload = entry.payload.model_validate(entry.example)
        assert set(MESSAGES[entry.message_key(payload)]) == set(SUPPORTED_LANGUAGES)

    def test_every_message_is_used_by_some_entry(self):
        keys = set(CATALOG) - {"finance.budget_approval.decided", "orders.order.rejected"}
        keys |= {"finance.budget_approval.decided.approved", "finance.budget_approval.decided.rejected"}
        keys |= {"orders.order.shipped.dated"}
        keys |= {
            f"orders.order.rejected.{reason}"
            for reason in ("unknown_sku", "currency_mismatch", "price_mismatch", "payment_declined")
        }
        assert set(MESSAGES) == keys

    def test_unknown_type_raises_key_error(self):
        with pytest.raises(KeyError):
            entry_for("hr.employee.promoted")


class TestPayloadValidation:
    BASE: ClassVar[dict[str, str]] = {
        "accountId": "A-1",
        "ownerId": "bob",
        "amount": "10.50",
        "currency": "EUR",
        "merchant": "Shop",
    }

    def test_extra_fields_are_accepted_and_ignored(self):
        payload = DebitPosted.model_validate({**self.BASE, "branch": "Berlin"})
        assert "branch" not in payload.model_dump(by_alias=True)

    @pytest.mark.parametrize(
        ("amount", "expected"), [("10.50", "10.50"), (10.5, "10.5"), (10, "10"), (Decimal("0.1"), "0.1")]
    )
    def test_amounts_become_decimals(self, amount, expected):
        parsed = DebitPosted.model_validate({**self.BASE, "amount": amount}).amount
        assert isinstance(parsed, Decimal)
        assert parsed == Decimal(expected)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("amount", "0"),
            ("amount", "-1"),
            ("amount", "NaN"),
            ("amount", "Infinity"),
            ("amount", "1.23456"),
            ("amount", "ten"),
            ("currency", "eur"),
            ("currency", "EURO"),
            ("currency", "ABC"),
            ("currency", 978),
            ("ownerId", ""),
            ("ownerId", "   "),
            ("ownerId", 42),
            ("ownerId", "x" * 101),
            ("merchant", None),
        ],
    )
    def test_rejects_invalid_values(self, field, value):
        with pytest.raises(pydantic.ValidationError):
            DebitPosted.model_validate({**self.BASE, field: value})

    def test_rejects_a_decision_other_than_approved_or_rejected(self):
        data = {**CATALOG["finance.budget_approval.decided"].example, "decision": "maybe"}
        with pytest.raises(pydantic.ValidationError):
            BudgetApprovalDecided.model_validate(data)

    @pytest.mark.parametrize("url", ["http://t.example.com/1", "ftp://t.example.com/1", "not a url", "https://"])
    def test_tracking_url_must_be_https(self, url):
        data = {**CATALOG["orders.order.shipped"].example, "trackingUrl": url}
        with pytest.raises(pydantic.ValidationError):
            OrderShipped.model_validate(data)


class TestFormatting:
    @pytest.mark.parametrize(
        ("language", "amount", "expected"),
        [
            ("en", "1234.50", "€1,234.50"),
            ("de", "1234.50", "1.234,50\xa0€"),
            ("es", "1234.50", "1234,50\xa0€"),
            ("es", "12345.50", "12.345,50\xa0€"),
            ("de", "999.5", "999,50\xa0€"),
        ],
    )
    def test_money_follows_the_locale(self, language, amount, expected):
        assert format_money(Decimal(amount), "EUR", language) == expected

    def test_dates_are_spelled_out_per_locale(self):
        day = date(2025, 3, 14)
        assert [format_day(day, lang) for lang in ("en", "de", "es")] == [
            "March 14, 2025",
            "14. März 2025",
            "14 de marzo de 2025",
        ]

    def test_values_cannot_break_the_message_layout(self):
        payload = DebitPosted.model_validate({**TestPayloadValidation.BASE, "merchant": "Evil\n\nCorp\t{amount}"})
        message = localized_message("accounts.debit.posted", payload, "en")
        assert message.body == "€10.50 paid to Evil Corp {amount}."


class TestCatalogDocument:
    def test_lists_every_type_with_schema_and_a_valid_example(self):
        document = catalog_document()
        json.dumps(document)
        assert [event["type"] for event in document["events"]] == list(CATALOG)
        for event in document["events"]:
            entry = CATALOG[event["type"]]
            assert event["example"]["type"] == event["type"]
            assert event["example"]["source"] == event["source"] == entry.source
            entry.payload.model_validate(event["example"]["data"])
            assert event["dataSchema"]["type"] == "object"

    def test_audience_is_documented_with_the_wire_field_name(self):
        events = {event["type"]: event for event in catalog_document()["events"]}
        assert events["hr.employee.joined"]["audience"] == "topic:hr"
        assert events["finance.budget_approval.requested"]["audience"] == "user:{approverId}"
        assert events["finance.budget_approval.decided"]["audience"] == "user:{requesterId}"
        assert events["accounts.debit.posted"]["audience"] == "user:{ownerId}"
        assert events["orders.order.shipped"]["audience"] == "user:{customerId}"
