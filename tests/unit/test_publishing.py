"""Publishing: a CloudEvent as a Service Bus message, and the topic of each type."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from shared.domain.catalog import CATALOG, example_cloud_event
from shared.domain.errors import ValidationError
from shared.domain.publishing import CONTENT_TYPE, message_id_for, to_outgoing_message, topic_for
from shared.domain.topics import TOPICS


class TestToOutgoingMessage:
    def test_maps_the_event_onto_message_fields(self):
        event = example_cloud_event(CATALOG["accounts.debit.posted"])
        message = to_outgoing_message(event)
        assert message.message_id == f"/lob/accounts#{event['id']}"
        assert message.subject == "accounts.debit.posted"
        assert message.content_type == CONTENT_TYPE == "application/cloudevents+json; charset=utf-8"
        assert message.application_properties == {"type": "accounts.debit.posted", "source": "/lob/accounts"}
        assert json.loads(message.body) == event

    def test_keeps_text_as_utf8_and_decimals_exact(self):
        event = {
            **example_cloud_event(CATALOG["orders.order.shipped"]),
            "data": {"total": Decimal("0.10"), "carrier": "Poste Italiane – Ü", "when": date(2025, 3, 14)},
        }
        body = to_outgoing_message(event).body
        assert "Poste Italiane – Ü".encode() in body
        assert json.loads(body)["data"] == {"total": "0.10", "carrier": "Poste Italiane – Ü", "when": "2025-03-14"}

    @pytest.mark.parametrize("missing", ["id", "type", "source"])
    def test_refuses_an_event_without_id_type_or_source(self, missing):
        event = example_cloud_event(CATALOG["hr.employee.left"])
        del event[missing]
        with pytest.raises(ValidationError) as info:
            to_outgoing_message(event)
        assert info.value.errors[0].location == f"/{missing}"


class TestMessageId:
    def test_the_same_id_from_two_systems_gets_two_message_ids(self):
        """Duplicate detection drops repeated message ids: /lob/hr's "42" must not drop /lob/finance's "42"."""
        assert message_id_for("/lob/hr", "42") != message_id_for("/lob/finance", "42")

    def test_a_long_id_is_hashed_within_service_bus_limit_and_stays_stable(self):
        long_id = "x" * 128
        message_id = message_id_for("/lob/finance", long_id)
        assert len(message_id) <= 128
        assert message_id.startswith("/lob/finance#sha256:")
        assert message_id == message_id_for("/lob/finance", long_id)
        assert message_id != message_id_for("/lob/finance", "y" * 128)

    @pytest.mark.parametrize("source", list(TOPICS.values()))
    def test_every_source_leaves_room_for_the_hashed_form(self, source):
        """The separator never appears in a source, and source + hash fits in 128 characters."""
        assert "#" not in source
        assert len(message_id_for(source, "z" * 128)) == len(source) + len("#sha256:") + 64 <= 128


class TestTopicFor:
    @pytest.mark.parametrize("event_type", list(CATALOG))
    def test_every_type_has_its_systems_topic(self, event_type):
        assert topic_for(event_type) == event_type.split(".")[0]

    def test_unknown_types_are_a_validation_error(self):
        with pytest.raises(ValidationError):
            topic_for("crm.lead.created")
