"""Use case: relay the outbox, publishing what the order store wrote together with a change, then forgetting it.

Publishing happens exactly when the order is stored: the message is written in the same atomic write as the
order (``OrderStore.create``/``transition``), so no order exists without its pending message and no message is
published for an order that was not stored. Right after the write, the writer relays its own entries; whatever
that misses (the process died, the bus was away) the timer relays later. A message can therefore be published
twice (published, then the process died before the entry was removed): its message id is the event id, so the
broker's duplicate detection drops the copy within its window and the consumers' idempotency (the push
subscription's delivery log, the fulfilment state machine) after it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from shared.domain.errors import UpstreamError
from shared.ports.messaging import EventPublisher
from shared.ports.orders import Outbox, OutboxEntry

__all__ = ["RELAY_GRACE", "relay_entries", "relay_pending", "relay_soon"]

logger = logging.getLogger(__name__)

# The timer leaves fresh entries to the writer's own relay, so the two rarely publish the same message.
RELAY_GRACE = timedelta(seconds=5)


async def relay_entries(publisher: EventPublisher, outbox: Outbox, entries: Sequence[OutboxEntry]) -> int:
    """Publish ``entries`` (per topic, in order), then remove them. Raises UpstreamError when publishing fails;
    then nothing is removed and a later relay publishes them again."""
    by_topic: dict[str, list[OutboxEntry]] = {}
    for entry in entries:
        by_topic.setdefault(entry.topic, []).append(entry)
    for topic, group in by_topic.items():
        await publisher.publish(topic, [entry.message for entry in group])
    await outbox.remove(entries)
    return len(entries)


async def relay_soon(publisher: EventPublisher, outbox: Outbox, entries: Sequence[OutboxEntry]) -> bool:
    """The writer's relay right after its write: best effort, never raises; False leaves the entries to the timer."""
    try:
        await relay_entries(publisher, outbox, entries)
    except UpstreamError as exc:
        logger.warning("outbox relay deferred to the timer for %s messages: %s", len(entries), type(exc).__name__)
        return False
    return True


async def relay_pending(
    publisher: EventPublisher, outbox: Outbox, now: datetime, *, limit: int = 500, grace: timedelta = RELAY_GRACE
) -> int:
    """The timer's relay: everything written before ``now - grace`` that is still pending. Raises UpstreamError."""
    entries = await outbox.pending(written_before=now - grace, limit=limit)
    if not entries:
        return 0
    relayed = await relay_entries(publisher, outbox, entries)
    logger.info("outbox relay published %s pending messages", relayed)
    return relayed
