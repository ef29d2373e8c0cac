"""The line-of-business topics: one Service Bus topic per system, each with the CloudEvent source it publishes as."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["TOPICS", "source_for_topic"]

# Typed read-only; a plain dict underneath so that a test can add a LoB system in test data only.
TOPICS: Mapping[str, str] = {
    "hr": "/lob/hr",
    "finance": "/lob/finance",
    "accounts": "/lob/accounts",
    "orders": "/lob/orders",
}


def source_for_topic(topic: str) -> str:
    """The CloudEvent ``source`` of the system that owns ``topic``. Raises KeyError for an unknown topic."""
    return TOPICS[topic]
