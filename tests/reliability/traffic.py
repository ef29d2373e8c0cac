"""Drive a running stack: register a fleet of devices, publish LoB events onto the local bus, wait and count."""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from local.bus.broker import LocalBus
from local.bus.topology import load_topology
from shared.domain.publishing import replay_message_id, to_outgoing_message, topic_for
from shared.domain.simulated_events import simulate_event
from shared.domain.topics import TOPICS
from tests.reliability.ledger import Observed, Tally, count_outcomes, observe
from tests.support.stack import ROOT, Stack, poll_until

__all__ = [
    "ADDRESSED_TYPES",
    "ADMIN",
    "TOPOLOGY",
    "Fleet",
    "Observer",
    "count_log",
    "expected_installations",
    "make_events",
    "publish",
    "register_fleet",
    "wait_for_share",
]

TOPOLOGY = ROOT / "infra" / "servicebus-topology.json"
HUB = "e2e"
ADMIN = {"X-Dev-User": "ops", "X-Dev-Roles": "push.admin"}
# The oracle, written out rather than taken from the catalog: who each event type addresses.
ADDRESSED_TYPES: dict[str, str] = {
    "finance.budget_approval.requested": "approverId",
    "finance.budget_approval.decided": "requesterId",
    "orders.order.placed": "customerId",
    "orders.order.confirmed": "customerId",
    "orders.order.shipped": "customerId",
    "orders.order.delivered": "customerId",
}
_PLATFORMS = ("apns", "fcmv1", "wns")
_LANGUAGES = ("en-GB", "de-DE", "es-ES")


@dataclass(frozen=True)
class Fleet:
    """Users with one device each; ``devices`` maps user id to installation id."""

    devices: dict[str, str]

    @property
    def users(self) -> list[str]:
        return list(self.devices)


def register_fleet(http: httpx.Client, api: str, size: int = 24) -> Fleet:
    """Register ``size`` users' devices over PUT /installations (platforms and languages mixed).

    Raises AssertionError when a registration is refused.
    """
    run = uuid.uuid4().hex[:8]
    devices: dict[str, str] = {}
    for index in range(size):
        user, platform = f"rel{run}u{index}", _PLATFORMS[index % len(_PLATFORMS)]
        installation = f"{user}-{platform}"
        body = {"platform": platform, "pushChannel": _channel(platform, run, index), "language": _LANGUAGES[index % 3]}
        response = http.put(f"{api}/installations/{installation}", headers={"X-Dev-User": user}, json=body)
        assert response.status_code == 200, response.text
        devices[user] = installation
    return Fleet(devices)


def _channel(platform: str, run: str, index: int) -> str:
    if platform == "apns":
        return uuid.uuid4().hex * 2
    if platform == "fcmv1":
        return f"fcm_{run}{index}_" + "A" * 40
    return f"https://db5p.notify.windows.com/?token=AwYAAAB{run}{index}"


def make_events(fleet: Fleet, count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` CloudEvents of the user-addressed types, for users of ``fleet``, each with a fresh id."""
    rng = random.Random(seed)
    types = sorted(ADDRESSED_TYPES)
    now = datetime.now(UTC)
    events = []
    for index in range(count):
        event = simulate_event(types[index % len(types)], rng, now=now, user_ids=fleet.users)
        event["id"] = str(uuid.uuid4())
        events.append(event)
    return events


def expected_installations(events: Sequence[dict[str, Any]], fleet: Fleet) -> dict[str, str]:
    """Event id -> the installation that must receive it exactly once."""
    return {event["id"]: fleet.devices[event["data"][ADDRESSED_TYPES[event["type"]]]] for event in events}


async def publish(
    bus_file: Path,
    events: Sequence[dict[str, Any]],
    topology: Path = TOPOLOGY,
    batch: int = 100,
    *,
    resend: Collection[str] = (),
) -> None:
    """Publish ``events`` straight onto the dev host's local bus, in batches per topic (as a LoB system on AMQP).

    Each event whose id is in ``resend`` is published a second time right after itself, under a fresh message id
    (as a LoB system resending it after the bus's duplicate detection window): two messages, one event.
    """
    bus = LocalBus(bus_file, load_topology(topology))
    try:
        by_topic: dict[str, list[Any]] = {}
        for event in events:
            message = to_outgoing_message(event)
            copies = [message, replace(message, message_id=replay_message_id(message.message_id))]
            by_topic.setdefault(topic_for(event["type"]), []).extend(copies if event["id"] in resend else copies[:1])
        for topic, messages in by_topic.items():
            for start in range(0, len(messages), batch):
                await bus.publish(topic, messages[start : start + batch])
    finally:
        bus.close()


@dataclass
class Observer:
    """Reads what the outside world recorded (the emulator's sends, pushes and screens, the operator's dead-letter
    listing) and the bus, and tallies one scenario."""

    stack: Stack
    http: httpx.Client
    topology: Path = TOPOLOGY

    def _emulator(self, path: str) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.stack.emulator}_emulator/{path}")
        response.raise_for_status()
        return list(response.json())

    def deliveries(self) -> list[dict[str, Any]]:
        """Every push the emulator delivered."""
        return self._emulator("deliveries")

    def dead_letters(self) -> list[dict[str, Any]] | None:
        """The listing, or None while the API cannot produce it (the dev host restarting, storage down)."""
        try:
            response = self.http.get(f"{self.stack.api}/deadletters", headers=ADMIN)
        except httpx.HTTPError:
            return None
        return list(response.json()["items"]) if response.status_code == 200 else None

    def observe(self) -> Observed | None:
        """One look at everything, or None while the dead-letter listing is unavailable."""
        dead = self.dead_letters()
        if dead is None:
            return None
        return observe(self._emulator("notifications"), self.deliveries(), self._emulator("devices"), dead)

    def active_messages(self) -> int:
        """Messages waiting or locked on the push subscriptions."""

        async def count() -> int:
            bus = LocalBus(self.stack.state_dir / "bus.sqlite3", load_topology(self.topology))
            try:
                return sum([await bus.count_active(topic, "push") for topic in TOPICS])
            finally:
                bus.close()

        return asyncio.run(count())

    def delivered_share(self, expected: Mapping[str, str | None]) -> float:
        """The share of ``expected`` events the right device has received so far (the sends are needed too: a WNS
        toast names its event only through the send that caused it)."""
        received = observe(self._emulator("notifications"), self.deliveries(), [], []).received
        reached = sum(1 for event_id, target in expected.items() if target and _got(received, event_id, target))
        return reached / max(1, len(expected))

    def wait_until_accounted(
        self,
        scenario: str,
        expected: Mapping[str, str | None],
        timeout: float,
        *,
        expected_dead_lettered: int = 0,
        expected_quarantined: int = 0,
    ) -> Tally:
        """Poll until every expected event is delivered or parked and the bus holds none of the run's messages any
        more (so nothing can be sent again: every delivery finished), then tally; at the deadline tally what there
        is, lost events and all."""
        started = time.monotonic()
        last: Observed | None = None

        def settled() -> bool:
            nonlocal last
            last = self.observe() or last
            if last is None:
                return False
            pending = [
                event_id
                for event_id, target in expected.items()
                if target and not _got(last.received, event_id, target) and event_id not in last.parked
            ]
            return not pending and self.active_messages() == 0

        # Each look fetches every listing: often in a bounded run, once a second in a full-size one (where looking
        # would take CPU from the drain it measures).
        done = poll_until(settled, timeout=timeout, interval=0.2 if len(expected) <= 1_000 else 1.0)
        final = self.observe() or last
        assert final is not None, "the dead-letter listing never answered"
        tally = count_outcomes(
            scenario,
            expected,
            final,
            expected_dead_lettered=expected_dead_lettered,
            expected_quarantined=expected_quarantined,
        )
        if done:
            tally.notes["drain seconds"] = round(time.monotonic() - started, 1)
        else:
            tally.notes["drain seconds"] = f"timed out after {timeout:.0f}"
            tally.notes["still on the bus"] = self.active_messages()
        return tally


def _got(received: Mapping[str, Counter[str]], event_id: str, installation: str) -> bool:
    counts = received.get(event_id)
    return counts is not None and counts[installation] > 0


def wait_for_share(observer: Observer, expected: Mapping[str, str | None], share: float, timeout: float = 60) -> float:
    """Wait until ``share`` of the events reached their device; return the share reached. Raises AssertionError
    at the timeout (a scenario that goes on anyway would not be the one it says it is)."""
    reached = 0.0

    def arrived() -> bool:
        nonlocal reached
        reached = observer.delivered_share(expected)
        return reached >= share

    assert poll_until(arrived, timeout=timeout, interval=0.02), f"only {reached:.0%} arrived, not {share:.0%}"
    return reached


_RETRY_LINE = re.compile(r"NH (\w+) attempt \d+ failed \((\w+), HTTP (\w+)\)")


def count_log(path: Path, pattern: str) -> int:
    """Lines of a process log that contain ``pattern``."""
    with path.open(encoding="utf-8", errors="replace") as log:
        return sum(pattern in line for line in log)


def nh_failures(path: Path) -> Counter[str]:
    """NH send failures the dev host retried in process, by error class and HTTP status, from its log."""
    failures: Counter[str] = Counter()
    with path.open(encoding="utf-8", errors="replace") as log:
        for line in log:
            match = _RETRY_LINE.search(line)
            if match and match.group(1) == "send":
                failures[f"{match.group(2)} {match.group(3)}"] += 1
    return failures
