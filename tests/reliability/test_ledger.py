"""The accounting the scenarios use: counted from what the emulator and the operator's listing recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.reliability.ledger import count_outcomes, observe

pytestmark = pytest.mark.reliability


def send(notification_id: str, event_id: str) -> dict[str, Any]:
    return {"notification_id": notification_id, "body": json.dumps({"eventId": event_id, "collapseId": "c"})}


def push(notification_id: str, installation: str, *, payload: str = "<toast/>", alert: bool = True) -> dict[str, Any]:
    headers = {"x-wns-type": "wns/toast" if alert else "wns/raw"}
    return {
        "notificationId": notification_id,
        "installationId": installation,
        "platform": "wns",
        "pushChannel": "ch",
        "headers": headers,
        "payload": payload,
    }


def screen(installation: str, *shown: str) -> dict[str, Any]:
    return {"installationId": installation, "shown": [push(n, installation) for n in shown]}


class TestCountOutcomes:
    def test_a_resend_is_counted_at_nh_and_on_the_device_but_not_on_the_screen_when_it_collapsed(self):
        observed = observe(
            [send("n1", "e1"), send("n2", "e1")], [push("n1", "d1"), push("n2", "d1")], [screen("d1", "n2")], []
        )
        tally = count_outcomes("s", {"e1": "d1"}, observed)
        assert (tally.delivered, tally.lost) == (1, 0)
        assert (tally.nh_duplicate_sends, tally.received_duplicates, tally.visible_duplicates) == (1, 1, 0)

    def test_two_notifications_on_the_screen_for_one_event_are_a_visible_duplicate(self):
        observed = observe(
            [send("n1", "e1"), send("n2", "e1")], [push("n1", "d1"), push("n2", "d1")], [screen("d1", "n1", "n2")], []
        )
        assert count_outcomes("s", {"e1": "d1"}, observed).visible_duplicate_ids == ["e1"]

    def test_a_dead_lettered_event_that_never_arrived_is_lost_and_counted_as_dead_lettered(self):
        listing = [{"messageId": "/lob/hr#e1", "kind": "deadletter", "reason": "MaxDeliveryCountExceeded"}]
        tally = count_outcomes("s", {"e1": "d1"}, observe([], [], [], listing))
        assert (tally.lost, sum(tally.dead_lettered.values()), tally.expected_dead_lettered) == (1, 1, 0)

    def test_a_parked_message_is_listed_under_its_event_id_whether_or_not_its_id_names_the_source(self):
        listing = [
            {"messageId": "/lob/hr#e1", "kind": "deadletter", "reason": "MaxDeliveryCountExceeded"},
            {"messageId": "m2", "kind": "quarantine", "reason": "invalid_json"},
        ]
        assert set(observe([], [], [], listing).parked) == {"e1", "m2"}

    def test_a_push_to_another_device_is_misrouted_and_does_not_count_as_delivered(self):
        observed = observe([send("n1", "e1")], [push("n1", "d2")], [], [])
        tally = count_outcomes("s", {"e1": "d1"}, observed)
        assert (tally.delivered, tally.lost, tally.misrouted) == (0, 1, 1)

    def test_an_alert_the_screen_no_longer_shows_is_counted_as_not_shown(self):
        """Another event's notification with the same collapse id replaced it: a person lost it."""
        observed = observe(
            [send("n1", "e1"), send("n2", "e2")], [push("n1", "d1"), push("n2", "d1")], [screen("d1", "n2")], []
        )
        assert count_outcomes("s", {"e1": "d1", "e2": "d1"}, observed).not_shown == 1

    def test_a_silent_push_is_delivered_without_being_shown(self):
        observed = observe([send("n1", "e1")], [push("n1", "d1", alert=False)], [], [])
        tally = count_outcomes("s", {"e1": "d1"}, observed)
        assert (tally.delivered, tally.not_shown) == (1, 0)

    def test_a_push_names_its_event_in_its_payload_when_it_carries_one(self):
        observed = observe([], [push("unknown", "d1", payload=json.dumps({"eventId": "e9"}))], [], [])
        assert observed.received["e9"]["d1"] == 1
