"""Read a Service Bus topology in the official emulator's Config.json schema into plain records."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from local.bus.filters import MessageFilter, compile_rule
from shared.domain.errors import ConfigError

__all__ = ["SubscriptionSpec", "TopicSpec", "Topology", "load_topology", "parse_duration", "parse_topology"]

_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)

DEFAULT_LOCK_DURATION = timedelta(minutes=1)
DEFAULT_MAX_DELIVERY_COUNT = 10
DEFAULT_DUPLICATE_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class SubscriptionSpec:
    name: str
    lock_duration: timedelta
    max_delivery_count: int
    default_ttl: timedelta | None
    dead_letter_on_expiration: bool
    rules: tuple[MessageFilter, ...]

    def accepts(self, message: Any) -> bool:
        """Rules are OR-ed; a subscription without rules has the default TRUE rule."""
        return any(rule(message) for rule in self.rules)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    default_ttl: timedelta | None
    requires_duplicate_detection: bool
    duplicate_window: timedelta
    subscriptions: tuple[SubscriptionSpec, ...]

    def subscription(self, name: str) -> SubscriptionSpec:
        """Raises ConfigError when the topic has no such subscription."""
        for sub in self.subscriptions:
            if sub.name.lower() == name.lower():
                return sub
        raise ConfigError(f"topic {self.name!r} has no subscription {name!r}")


@dataclass(frozen=True)
class Topology:
    topics: tuple[TopicSpec, ...]

    def topic(self, name: str) -> TopicSpec:
        """Entity names are case-insensitive in Service Bus. Raises ConfigError for an unknown topic."""
        for topic in self.topics:
            if topic.name.lower() == name.lower():
                return topic
        raise ConfigError(f"no topic {name!r} in the Service Bus topology")


def parse_duration(text: str) -> timedelta:
    """ISO 8601 duration as the emulator config uses it ("PT1M", "P14D"). Raises ConfigError."""
    match = _DURATION.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT"):
        raise ConfigError(f"not an ISO 8601 duration: {text!r}")
    parts = {key: float(value) for key, value in match.groupdict().items() if value}
    return timedelta(**parts)


def load_topology(path: Path) -> Topology:
    """Read and validate a topology file. Raises ConfigError for anything the local bus cannot honour."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read Service Bus topology {path}: {exc}") from exc
    return parse_topology(document)


def parse_topology(document: Any) -> Topology:
    """Build a Topology from a Config.json document. Raises ConfigError naming the entity at fault."""
    try:
        namespaces = document["UserConfig"]["Namespaces"]
    except (KeyError, TypeError) as exc:
        raise ConfigError("topology must have UserConfig.Namespaces") from exc
    if not isinstance(namespaces, list) or len(namespaces) != 1:
        raise ConfigError("topology must have exactly one namespace (as the emulator requires)")
    namespace = namespaces[0]
    if namespace.get("Queues"):
        raise ConfigError("the local bus supports topics only; remove Queues from the topology")
    topics = tuple(_topic(raw) for raw in namespace.get("Topics") or [])
    names = [t.name.lower() for t in topics]
    if len(set(names)) != len(names):
        raise ConfigError("topic names must be unique")
    return Topology(topics=topics)


def _topic(raw: dict[str, Any]) -> TopicSpec:
    name = _name(raw, "topic")
    props = raw.get("Properties") or {}
    ttl = props.get("DefaultMessageTimeToLive")
    window = props.get("DuplicateDetectionHistoryTimeWindow")
    subscriptions = tuple(_subscription(name, sub) for sub in raw.get("Subscriptions") or [])
    sub_names = [s.name.lower() for s in subscriptions]
    if len(set(sub_names)) != len(sub_names):
        raise ConfigError(f"topic {name!r}: subscription names must be unique")
    return TopicSpec(
        name=name,
        default_ttl=parse_duration(ttl) if ttl else None,
        requires_duplicate_detection=bool(props.get("RequiresDuplicateDetection", False)),
        duplicate_window=parse_duration(window) if window else DEFAULT_DUPLICATE_WINDOW,
        subscriptions=subscriptions,
    )


def _subscription(topic: str, raw: dict[str, Any]) -> SubscriptionSpec:
    name = _name(raw, f"subscription of topic {topic!r}")
    where = f"subscription {topic}/{name}"
    props = raw.get("Properties") or {}
    if props.get("RequiresSession"):
        raise ConfigError(f"{where}: sessions are not supported by the local bus")
    for forward in ("ForwardTo", "ForwardDeadLetteredMessagesTo"):
        if props.get(forward):
            raise ConfigError(f"{where}: {forward} is not supported by the local bus")
    ttl = props.get("DefaultMessageTimeToLive")
    lock = props.get("LockDuration")
    max_count = props.get("MaxDeliveryCount", DEFAULT_MAX_DELIVERY_COUNT)
    if not isinstance(max_count, int) or max_count < 1:
        raise ConfigError(f"{where}: MaxDeliveryCount must be a positive integer")
    rules = tuple(compile_rule(rule, where) for rule in raw.get("Rules") or [])
    if not rules:
        rules = (
            compile_rule(
                {"Name": "$Default", "Properties": {"FilterType": "Sql", "SqlFilter": {"SqlExpression": "1=1"}}}, where
            ),
        )
    return SubscriptionSpec(
        name=name,
        lock_duration=parse_duration(lock) if lock else DEFAULT_LOCK_DURATION,
        max_delivery_count=max_count,
        default_ttl=parse_duration(ttl) if ttl else None,
        dead_letter_on_expiration=bool(props.get("DeadLetteringOnMessageExpiration", False)),
        rules=rules,
    )


def _name(raw: Any, what: str) -> str:
    name = raw.get("Name") if isinstance(raw, dict) else None
    if not isinstance(name, str) or not name:
        raise ConfigError(f"every {what} needs a Name")
    return name
