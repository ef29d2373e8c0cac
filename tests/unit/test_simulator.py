"""The LoB event simulator: every type, plausible data, and every event parses."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.domain.catalog import CATALOG
from shared.domain.catalog.payloads import OrderShipped
from shared.domain.events import parse_cloud_event
from shared.domain.publishing import to_outgoing_message, topic_for
from shared.domain.simulated_events import DEFAULT_USER_IDS, simulate_event, simulate_events

NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)


class TestSimulatedEvents:
    def test_the_first_events_cover_every_catalog_type(self):
        events = simulate_events(len(CATALOG), seed=1, now=NOW)
        assert [event["type"] for event in events] == list(CATALOG)

    @pytest.mark.parametrize("seed", range(5))
    def test_every_produced_event_parses_after_publishing(self, seed):
        for event in simulate_events(60, seed=seed, now=NOW):
            message = to_outgoing_message(event)
            parsed = parse_cloud_event(message.body, message.content_type)
            assert parsed.id == event["id"]
            assert topic_for(parsed.type) == CATALOG[parsed.type].topic

    def test_the_same_seed_gives_the_same_events(self):
        first = simulate_events(20, seed=42, now=NOW)
        assert first == simulate_events(20, seed=42, now=NOW)
        assert first != simulate_events(20, seed=43, now=NOW)

    def test_ids_are_unique(self):
        events = simulate_events(200, seed=7, now=NOW)
        assert len({event["id"] for event in events}) == len(events)

    def test_data_is_plausible(self):
        events = simulate_events(300, seed=3, now=NOW, user_ids=["u1", "u2"])
        currencies = {event["data"]["currency"] for event in events if "currency" in event["data"]}
        assert currencies == {"EUR", "USD", "GBP"}
        users = {
            event["data"][key]
            for event in events
            for key in ("approverId", "requesterId", "ownerId", "customerId")
            if key in event["data"]
        }
        assert users == {"u1", "u2"}
        amounts = [Decimal(str(event["data"]["amount"])) for event in events if "amount" in event["data"]]
        assert all(amount > 0 and amount == amount.quantize(Decimal("0.01")) for amount in amounts)
        assert any(amount < 100 for amount in amounts)
        assert any(amount >= 100 for amount in amounts)

    def test_shipments_carry_https_tracking_urls_and_a_future_date(self):
        rng = random.Random(5)
        for _ in range(20):
            event = simulate_event("orders.order.shipped", rng, now=NOW)
            payload = OrderShipped.model_validate(event["data"])
            assert payload.tracking_url.startswith("https://")
            assert payload.estimated_delivery is not None
            assert payload.estimated_delivery > NOW.date()

    def test_approvers_do_not_approve_their_own_requests(self):
        rng = random.Random(9)
        for _ in range(30):
            data = simulate_event("finance.budget_approval.requested", rng, now=NOW)["data"]
            assert data["approverId"] != data["requesterId"]

    def test_default_users_and_the_given_time_are_used(self):
        event = simulate_events(4, seed=0, now=NOW)[3]
        assert event["data"]["approverId"] in DEFAULT_USER_IDS
        assert datetime.fromisoformat(event["time"]) == NOW

    def test_an_empty_user_list_is_refused(self):
        with pytest.raises(ValueError, match="user_ids"):
            simulate_events(1, seed=0, now=NOW, user_ids=[])
