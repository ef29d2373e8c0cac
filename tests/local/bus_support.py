"""Helpers for the local bus tests: a settable clock, a one-topic topology document, messages, an open bus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local.bus import LocalBus, parse_topology
from shared.domain.records import OutgoingMessage


class FakeClock:
    """Epoch seconds that move only when a test calls ``advance``."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def topology(
    *,
    topic_props: dict[str, Any] | None = None,
    sub_props: dict[str, Any] | None = None,
    rules: dict[str, list[dict[str, Any]]] | None = None,
    subscriptions: tuple[str, ...] = ("push", "audit"),
) -> dict[str, Any]:
    """A Config.json document with one topic, ``orders``, and the given subscriptions."""
    subs = []
    for name in subscriptions:
        sub: dict[str, Any] = {
            "Name": name,
            "Properties": {"LockDuration": "PT30S", "MaxDeliveryCount": 3, **(sub_props or {})},
        }
        if rules and name in rules:
            sub["Rules"] = rules[name]
        subs.append(sub)
    return {
        "UserConfig": {
            "Namespaces": [
                {
                    "Name": "sbemulatorns",
                    "Queues": [],
                    "Topics": [{"Name": "orders", "Properties": topic_props or {}, "Subscriptions": subs}],
                }
            ],
            "Logging": {"Type": "File"},
        }
    }


def message(message_id: str = "m1", subject: str = "orders.order.placed", **props: str) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=message_id,
        subject=subject,
        content_type="application/cloudevents+json",
        body=json.dumps({"id": message_id}).encode(),
        application_properties=dict(props),
    )


def open_bus(tmp_path: Path, clock: FakeClock, document: dict[str, Any] | None = None) -> LocalBus:
    return LocalBus(tmp_path / "bus.sqlite3", parse_topology(document or topology()), clock=clock)


async def publish(bus: LocalBus, count: int, prefix: str = "m") -> None:
    """Publish ``count`` messages to ``orders``, with ids ``{prefix}0`` onwards."""
    await bus.publish("orders", [message(f"{prefix}{i}") for i in range(count)])
