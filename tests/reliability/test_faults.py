"""NH faults: with a fifth of the sends failing (429 + Retry-After, 503, timeouts, dropped connections), every
event published onto the local bus is pushed exactly once or dead-lettered with its reason."""

from __future__ import annotations

import asyncio

import httpx
import pytest

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


def drain_timeout(events: int) -> float:
    """Generous but bounded: a minute of slack, then 50 ms an event (the dev host does far better)."""
    return 60 + 0.05 * events


class TestNhFaults:
    def test_every_event_is_pushed_once_or_dead_lettered_when_a_fifth_of_sends_fail(
        self, stack: Stack, http: httpx.Client, sizes: Sizes
    ):
        fleet = register_fleet(http, stack.api)
        http.post(f"{stack.emulator}_emulator/faults", json=FAULT_MIX).raise_for_status()
        events = make_events(fleet, sizes.events)
        expected = expected_installations(events, fleet)
        try:
            asyncio.run(publish(stack.state_dir / "bus.sqlite3", events))
            tally = Observer(stack, http).wait_until_accounted(
                "NH faults: 20% of sends fail", expected, drain_timeout(len(events))
            )
        finally:
            http.delete(f"{stack.emulator}_emulator/faults").raise_for_status()
        failures = nh_failures(stack.devhost.log)
        tally.notes["NH send failures retried in process"] = dict(sorted(failures.items()))
        BOOK.add_tally(tally)
        assert (tally.lost, tally.duplicates, tally.misrouted) == (0, 0, 0), (tally.lost_ids[:5], tally.duplicate_ids)
        assert tally.delivered_and_dead_lettered == 0
        assert sum(failures.values()) > 0, "the faults never fired: the test would prove nothing"
