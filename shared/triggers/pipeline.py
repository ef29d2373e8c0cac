"""Entry points of the event pipeline for triggers: deliver one message, publish simulated events."""

from __future__ import annotations

import logging

from shared.composition import root as bootstrap
from shared.composition.correlation import invocation, trace_properties
from shared.domain.publishing import to_outgoing_message, topic_for
from shared.domain.simulated_events import simulate_events
from shared.domain.topics import TOPICS
from shared.usecases.delivery import DispatchResult, IncomingMessage, deliver_message
from shared.usecases.fallback import settle_fallback

__all__ = ["deliver", "publish_simulated_events", "push_if_unseen"]

logger = logging.getLogger(__name__)


async def deliver(message: IncomingMessage) -> DispatchResult:
    """Deliver one message with the process's services; raises when the bus should redeliver.

    The invocation's span continues the trace of the message's ``Diagnostic-Id``/``traceparent`` property; its log
    lines carry the event id (the message id: publishers set it to the CloudEvent id).
    """
    ports = bootstrap.services().delivery
    with invocation(
        f"deliver {message.topic}/{message.subscription}",
        message.application_properties,
        event_id=message.message_id,
        kind="consumer",
        **{"messaging.system": "servicebus", "messaging.destination.name": message.topic},
        **{"messaging.message.id": message.message_id, "messaging.delivery_count": message.delivery_count},
    ):
        return await deliver_message(message, ports)


async def push_if_unseen(message: IncomingMessage) -> DispatchResult:
    """An in-app notification's fallback came due: push it unless it was seen; raises when the bus should redeliver."""
    return await settle_fallback(message, bootstrap.services().delivery)


async def publish_simulated_events(count: int = 8, seed: int | None = None) -> int:
    """Publish ``count`` realistic LoB events, batched per topic, when the simulator is enabled."""
    services = bootstrap.services()
    if not services.settings.lob_simulator_enabled:
        logger.info("LoB simulator is disabled (LOB_SIMULATOR_ENABLED is not true)")
        return 0
    by_topic: dict[str, list[dict[str, object]]] = {}
    # No orders.* events: the shop places real orders now, and invented ones would be orders nobody stored.
    topics = [topic for topic in TOPICS if topic != "orders"]
    for event in simulate_events(count, seed=seed, now=services.now(), topics=topics):
        by_topic.setdefault(topic_for(str(event["type"])), []).append(event)
    with invocation("simulate LoB events", {}, event_id=None, kind="producer"):
        for topic, events in by_topic.items():
            properties = trace_properties()
            await services.publisher.publish(topic, [to_outgoing_message(event, properties) for event in events])
    logger.info("LoB simulator published %s events to %s topics", count, len(by_topic))
    return count
