"""Entry points of the event pipeline for triggers: deliver one message or a batch, publish simulated events."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from shared import bootstrap
from shared.dispatch import DispatchPorts, DispatchResult, IncomingMessage, deliver_message
from shared.dispatch_batch import deliver_batch
from shared.publishing import to_outgoing_message, topic_for
from shared.simulator import simulate_events

__all__ = ["deliver", "deliver_many", "publish_simulated_events"]

logger = logging.getLogger(__name__)


def _dispatch_ports() -> DispatchPorts:
    services = bootstrap.services()
    return DispatchPorts(
        push=services.push,
        deliveries=services.deliveries,
        quarantine=services.quarantine,
        preferences=services.preferences,
        now=services.now,
        redelivery_backoff=services.redelivery_backoff,
    )


async def deliver(message: IncomingMessage) -> DispatchResult:
    """Deliver one message with the process's services; raises when the bus should redeliver."""
    return await deliver_message(message, _dispatch_ports())


async def deliver_many(messages: Sequence[IncomingMessage]) -> list[DispatchResult]:
    """Deliver a batch from one subscription; raises when the bus should redeliver the whole batch."""
    return await deliver_batch(messages, _dispatch_ports())


async def publish_simulated_events(count: int = 8, seed: int | None = None) -> int:
    """Publish ``count`` realistic LoB events, batched per topic, when the simulator is enabled."""
    services = bootstrap.services()
    if not services.settings.lob_simulator_enabled:
        logger.info("LoB simulator is disabled (LOB_SIMULATOR_ENABLED is not true)")
        return 0
    by_topic: dict[str, list[dict[str, object]]] = {}
    for event in simulate_events(count, seed=seed, now=services.now()):
        by_topic.setdefault(topic_for(str(event["type"])), []).append(event)
    for topic, events in by_topic.items():
        await services.publisher.publish(topic, [to_outgoing_message(event) for event in events])
    logger.info("LoB simulator published %s events to %s topics", count, len(by_topic))
    return count
