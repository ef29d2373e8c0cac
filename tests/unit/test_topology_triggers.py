"""infra/servicebus-topology.json and function_app.py's Service Bus triggers agree, both ways."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from shared.domain.publishing import to_outgoing_message, topic_for
from shared.domain.simulated_events import simulate_events
from tests.support.app_functions import triggers

TOPOLOGY = Path(__file__).resolve().parents[2] / "infra" / "servicebus-topology.json"


def topology_subscriptions() -> set[tuple[str, str]]:
    config = json.loads(TOPOLOGY.read_text())
    pairs = set()
    for namespace in config["UserConfig"]["Namespaces"]:
        for topic in namespace["Topics"]:
            for subscription in topic["Subscriptions"]:
                pairs.add((topic["Name"], subscription["Name"]))
    return pairs


def trigger_subscriptions() -> set[tuple[str, str]]:
    pairs = set()
    for trigger in triggers():
        if trigger["type"] == "serviceBusTrigger":
            pairs.add((trigger["topicName"], trigger["subscriptionName"]))
            assert trigger["connection"] == "ServiceBusConnection"
    return pairs


class TestTopologyAndTriggers:
    def test_every_subscription_has_a_trigger_and_every_trigger_a_subscription(self):
        assert topology_subscriptions() == trigger_subscriptions()

    def test_there_is_a_push_subscription_on_every_lob_topic(self):
        assert {
            ("hr", "push"),
            ("finance", "push"),
            ("accounts", "push"),
            ("orders", "push"),
        } <= trigger_subscriptions()


class TestPublishedMessages:
    def test_publisher_sets_what_triggers_and_filters_expect(self):
        """message_id = source#id, subject = type, CloudEvents content type, type and source properties."""
        topics = {topic for topic, _ in topology_subscriptions()}
        for event in simulate_events(40, seed=7, now=datetime(2026, 11, 22, tzinfo=UTC)):
            message = to_outgoing_message(event)
            assert message.message_id == f"{event['source']}#{event['id']}"
            assert message.subject == event["type"]
            assert message.content_type.startswith("application/cloudevents+json")
            assert message.application_properties == {"type": event["type"], "source": event["source"]}
            assert topic_for(event["type"]) in topics
