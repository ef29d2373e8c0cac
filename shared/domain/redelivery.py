"""How long a message that failed for now is held before the bus gets it back."""

from __future__ import annotations

__all__ = ["default_redelivery_backoff"]


def default_redelivery_backoff(delivery_count: int) -> float:
    """Seconds to hold a failed message before handing it back: 2, 4, 8, 16, then 30.

    Service Bus redelivers an abandoned message at once; without a pause a short outage would burn every delivery
    attempt in seconds and dead-letter the whole backlog. The host renews the lock meanwhile.
    """
    return float(min(2 ** max(delivery_count, 1), 30))
