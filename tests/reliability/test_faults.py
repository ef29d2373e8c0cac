"""NH faults, judged from what the devices received: with a fifth of the sends failing (429 + Retry-After, 503,
timeouts, dropped connections) every event reaches its device once and nothing is dead-lettered; with answers lost
after NH processed the send (the duplicate window), every event reaches its device, NH is asked again for exactly
the sends whose answer was lost, and no person sees a notification twice."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.reliability.ledger import Tally
from tests.reliability.report import BOOK
from tests.reliability.sizes import Sizes
from tests.reliability.traffic import (
    Observer,
    expected_installations,
    make_events,
    nh_failures,
    publish,
    register_fleet,
)
from tests.support.stack import Stack

pytestmark = pytest.mark.reliability

SHARE = 0.05  # each of the four kinds fails 5% of the sends: 20% in all
# The emulator tries the rules in order, each with its own draw; these rates give each kind the same share.
FAULT_MIX = {
    "seed": 20,
    "rules": [
        {"route": "send", "rate": SHARE, "status": 429, "retryAfter": 1},
        {"route": "send", "rate": SHARE / (1 - SHARE), "status": 503},
        # A timeout: the NH client gives up after its 10 s read timeout; the emulator then drops the request unsent.
        {"route": "send", "rate": SHARE / (1 - 2 * SHARE), "latency": 11, "drop": True},
        {"route": "send", "rate": SHARE / (1 - 3 * SHARE), "drop": True},
    ],
}
# NH processes the send (the device gets the push), and the answer is lost: 5% dropped after processing, 2% held
# past the client's 10 s read timeout.
LOST_ANSWERS = {
    "seed": 21,
    "rules": [
        {"route": "send", "rate": 0.05, "afterProcessing": True, "drop": True},
        {"route": "send", "rate": 0.02 / 0.95, "afterProcessing": True, "latency": 11},
    ],
}


def drain_timeout(events: int) -> float:
    """Generous but bounded: a minute of slack, then 50 ms an event (the dev host does far better)."""
    return 60 + 0.05 * events


def run_with_faults(stack: Stack, http: httpx.Client, sizes: Sizes, faults: dict[str, Any], scenario: str) -> Tally:
    """Register a fleet, set ``faults``, publish the events onto the bus, wait until every one is accounted for;
    the faults are cleared whatever happens."""
    fleet = register_fleet(http, stack.api)
    events = make_events(fleet, sizes.events)
    expected = expected_installations(events, fleet)
    http.post(f"{stack.emulator}_emulator/faults", json=faults).raise_for_status()
    try:
        asyncio.run(publish(stack.state_dir / "bus.sqlite3", events))
        tally = Observer(stack, http).wait_until_accounted(scenario, expected, drain_timeout(len(events)))
        fired = [rule["fired"] for rule in http.get(f"{stack.emulator}_emulator/faults").json()["rules"]]
    finally:
        http.delete(f"{stack.emulator}_emulator/faults").raise_for_status()
    tally.notes["faults fired per rule"] = fired
    return tally


def assert_every_event_reached_its_device(tally: Tally) -> None:
    assert (tally.lost, tally.misrouted) == (0, 0), tally.lost_ids[:5]
    assert tally.delivered == tally.expected_delivered == tally.sent
    assert (sum(tally.dead_lettered.values()), sum(tally.quarantined.values())) == (0, 0)
    assert tally.not_shown == 0, "a notification was replaced by another event's"


class TestNhFaults:
    def test_every_event_reaches_its_device_once_when_a_fifth_of_sends_fail(
        self, stack: Stack, http: httpx.Client, sizes: Sizes
    ):
        tally = run_with_faults(stack, http, sizes, FAULT_MIX, "NH faults: 20% of sends fail")
        failures = nh_failures(stack.devhost.log)
        tally.notes["NH send failures retried in process"] = dict(sorted(failures.items()))
        BOOK.add_tally(tally)
        assert_every_event_reached_its_device(tally)
        assert (tally.nh_duplicate_sends, tally.received_duplicates, tally.visible_duplicates) == (0, 0, 0)
        assert all(tally.notes["faults fired per rule"]), "a kind of fault never fired: the test would prove less"


class TestLostAnswers:
    def test_no_one_sees_a_notification_twice_when_nh_answers_are_lost_after_processing(
        self, stack: Stack, http: httpx.Client, sizes: Sizes
    ):
        """NH offers no idempotency key: a send whose answer was lost is sent again, and the device receives it
        twice. The alert's collapse id makes the second replace the first on the screen."""
        tally = run_with_faults(stack, http, sizes, LOST_ANSWERS, "NH answers lost after processing (7%)")
        BOOK.add_tally(tally)
        lost_answers = sum(tally.notes["faults fired per rule"])
        assert_every_event_reached_its_device(tally)
        assert lost_answers > 0, "no answer was lost: the test would prove nothing"
        assert tally.nh_duplicate_sends == lost_answers, "each lost answer is one more send, and nothing else is"
        assert tally.received_duplicates == tally.nh_duplicate_sends
        assert tally.visible_duplicates == 0, tally.visible_duplicate_ids[:5]
