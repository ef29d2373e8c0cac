"""The local Service Bus: topology from infra/servicebus-topology.json, peek-lock semantics, SQLite persistence."""

from __future__ import annotations

from local.bus.broker import LocalBus, LockLostError, ReceivedMessage
from local.bus.topology import SubscriptionSpec, TopicSpec, Topology, load_topology, parse_topology

__all__ = [
    "LocalBus",
    "LockLostError",
    "ReceivedMessage",
    "SubscriptionSpec",
    "TopicSpec",
    "Topology",
    "load_topology",
    "parse_topology",
]
