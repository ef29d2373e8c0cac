"""Drive a running stack: register a fleet of devices, publish LoB events onto the local bus, wait and count."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from local.bus.broker import LocalBus
from local.bus.topology import load_topology
from shared.domain.publishing import to_outgoing_message, topic_for
from shared.domain.simulated_events import simulate_event
from shared.domain.topics import TOPICS
from tests.reliability.ledger import Tally, count_outcomes, event_id_in
from tests.support.stack import ROOT, Stack

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
    bus_file: Path, events: Sequence[dict[str, Any]], topology: Path = TOPOLOGY, batch: int = 100
) -> None:
    """Publish ``events`` straight onto the dev host's local bus, in batches per topic (as a LoB system on AMQP)."""
    bus = LocalBus(bus_file, load_topology(topology))
    try:
        by_topic: dict[str, list[Any]] = {}
        for event in events:
            by_topic.setdefault(topic_for(event["type"]), []).append(to_outgoing_message(event))
        for topic, messages in by_topic.items():
            for start in range(0, len(messages), batch):
                await bus.publish(topic, messages[start : start + batch])
    finally:
        bus.close()


@dataclass
class Observer:
    """Reads the emulator's deliveries, the dead-letter listing and the bus, and tallies one scenario."""

    stack: Stack
    http: httpx.Client
    topology: Path = TOPOLOGY
    _send_events: dict[str, str | None] = field(default_factory=dict)

    def deliveries(self) -> list[dict[str, Any]]:
        """Every push the emulator delivered, each with the ``eventId`` of the send that caused it."""
        response = self.http.get(f"{self.stack.emulator}_emulator/deliveries")
        response.raise_for_status()
        found = list(response.json())
        for delivery in found:
            delivery["eventId"] = event_id_in(delivery.get("payload")) or self._send_event(delivery["notificationId"])
        return found

    def _send_event(self, notification_id: str) -> str | None:
        """The eventId property of a template send, from the emulator's record of it (a WNS toast has none)."""
        if notification_id not in self._send_events:
            response = self.http.get(f"{self.stack.emulator}_emulator/notifications/{notification_id}")
            response.raise_for_status()
            properties = json.loads(response.json()["body"])
            self._send_events[notification_id] = properties.get("eventId") if isinstance(properties, dict) else None
        return self._send_events[notification_id]

    def dead_letters(self) -> list[dict[str, Any]] | None:
        """The listing, or None while the API cannot produce it (the dev host restarting, storage down)."""
        try:
            response = self.http.get(f"{self.stack.api}/deadletters", headers=ADMIN)
        except httpx.HTTPError:
            return None
        return list(response.json()["items"]) if response.status_code == 200 else None

    def active_messages(self) -> int:
        """Messages waiting or locked on the push subscriptions."""

        async def count() -> int:
            bus = LocalBus(self.stack.state_dir / "bus.sqlite3", load_topology(self.topology))
            try:
                return sum([await bus.count_active(topic, "push") for topic in TOPICS])
            finally:
                bus.close()

        return asyncio.run(count())

    def tally(self, scenario: str, expected: dict[str, str]) -> Tally | None:
        dead = self.dead_letters()
        return None if dead is None else count_outcomes(scenario, expected, self.deliveries(), dead)

    def delivered_share(self, expected: dict[str, str]) -> float:
        tally = count_outcomes("progress", expected, self.deliveries(), [])
        return tally.delivered / max(1, tally.sent)

    def wait_until_accounted(
        self, scenario: str, expected: dict[str, str], timeout: float, settle: float = 2.0
    ) -> Tally:
        """Poll until every event is delivered or dead-lettered and the bus is idle, then once more after ``settle``
        seconds (late duplicates); at the deadline return the last tally, lost events and all."""
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        last: Tally | None = None
        while time.monotonic() < deadline:
            last = self.tally(scenario, expected) or last
            if last is not None and last.lost == 0 and self.active_messages() == 0:
                time.sleep(settle)
                settled = self.tally(scenario, expected) or last
                settled.notes["drain seconds"] = round(time.monotonic() - started - settle, 1)
                return settled
            time.sleep(1.0)
        final = self.tally(scenario, expected) or last
        assert final is not None, "the dead-letter listing never answered"
        final.notes["drain seconds"] = f"timed out after {timeout:.0f}"
        final.notes["still on the bus"] = self.active_messages()
        return final


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
