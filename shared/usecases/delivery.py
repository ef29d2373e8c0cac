"""Use case: one Service Bus message on a push subscription becomes at most one template send.

Exactly-once in effect, on an at-least-once bus: the delivery log is claimed (insert-if-absent on
(event key, subscription); the key is ``source#id``, since only source and id together name one event) before the
send and finished after it. A redelivery of a finished event is
completed without a push. A crash between claim and finish leaves a claim that turns stale after
``stale_after`` and is then resumed. Transient NH failures release the claim and raise, so the bus
redelivers; permanent failures are quarantined with their reason and completed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.domain.decisions import Reason
from shared.domain.errors import (
    ConfigError,
    ConflictError,
    PushRejectedError,
    UpstreamUnavailableError,
    ValidationError,
)
from shared.domain.events import LobEvent, PermanentEventError, parse_cloud_event
from shared.domain.notification_plan import NotificationPlan, Skip, plan_notification, recipient_user_id
from shared.domain.publishing import topic_for
from shared.domain.records import Claim, ClaimStatus, DeliveryRecord, DeliveryState, QuarantinedMessage
from shared.notification_hubs.models import template_notification
from shared.ports import DeliveryPorts
from shared.usecases.decisions import note_failed, note_quarantined, note_sent, note_skipped

__all__ = [
    "Attempt",
    "DeliveryInProgressError",
    "DeliveryPorts",
    "DispatchResult",
    "IncomingMessage",
    "PlannedDelivery",
    "attempt_delivery",
    "claim_delivery",
    "deliver_message",
    "plan_delivery",
    "quarantine",
    "quarantine_id",
    "record_outcome",
    "route_message",
    "send_planned",
]

logger = logging.getLogger(__name__)


class DispatchResult(StrEnum):
    SENT = "sent"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    QUARANTINED = "quarantined"


class DeliveryInProgressError(UpstreamUnavailableError):
    """Another delivery of the same event holds a fresh claim; the bus should redeliver later."""


@dataclass(frozen=True)
class IncomingMessage:
    """A Service Bus message as the trigger hands it over, without the azure.functions type."""

    topic: str
    subscription: str
    message_id: str | None
    body: bytes
    content_type: str | None = None
    subject: str | None = None
    application_properties: dict[str, str] = field(default_factory=dict)
    delivery_count: int = 1
    enqueued_time: datetime | None = None


def quarantine_id(message: IncomingMessage) -> str:
    """Stable for one message on one subscription, so a redelivered poison message is recorded once."""
    if message.message_id is None:
        return "q-" + uuid.uuid4().hex
    key = f"{message.topic}/{message.subscription}/{message.message_id}".encode()
    return "q-" + hashlib.sha256(key).hexdigest()[:32]


async def deliver_message(message: IncomingMessage, ports: DeliveryPorts) -> DispatchResult:
    """Handle one message. Raises UpstreamUnavailableError when the bus should
    redeliver, after holding the message for ``redelivery_backoff(delivery_count)`` seconds."""
    try:
        return await _deliver(message, ports)
    except UpstreamUnavailableError as exc:
        delay = ports.redelivery_backoff(message.delivery_count)
        logger.warning(
            "transient failure on message_id=%s delivery=%s (%s); handing it back to the bus in %.0f s",
            message.message_id,
            message.delivery_count,
            type(exc).__name__,
            delay,
        )
        await asyncio.sleep(delay)
        raise


async def _deliver(message: IncomingMessage, ports: DeliveryPorts) -> DispatchResult:
    event = await route_message(message, ports)
    if event is None:
        return DispatchResult.QUARANTINED
    claim = await claim_delivery(ports, event.key, message.subscription)
    if claim.status is ClaimStatus.DONE:
        logger.info("duplicate event=%s subscription=%s: already delivered", event.key, message.subscription)
        return DispatchResult.DUPLICATE
    try:
        attempt = await attempt_delivery(message, event, claim, ports)
        if attempt.result is not DispatchResult.SENT:
            await ports.deliveries.finish(claim, attempt.record)
    except UpstreamUnavailableError as exc:
        await note_failed(ports, message, event, exc)
        # Whatever failed for now (preferences, NH after its retries), the redelivery may take the claim at once.
        # If storage is what failed, the release fails too and the claim simply turns stale.
        with suppress(UpstreamUnavailableError):
            await ports.deliveries.release(claim)
        raise
    if attempt.result is DispatchResult.SENT:
        await record_outcome(ports, claim, attempt.record)
    return attempt.result


@dataclass(frozen=True)
class Attempt:
    """What one claimed delivery came to, and the delivery-log row that records it."""

    result: DispatchResult
    record: DeliveryRecord


async def route_message(message: IncomingMessage, ports: DeliveryPorts) -> LobEvent | None:
    """The message's event, or None after quarantining a message that can never be delivered as it is."""
    try:
        event = parse_cloud_event(message.body, message.content_type)
    except PermanentEventError as exc:
        await quarantine(ports, message, exc.reason, exc.detail)
        return None
    ports.metrics.event_received(event.type)
    expected_topic = topic_for(event.type)
    if expected_topic != message.topic:
        detail = f"event type {event.type!r} belongs on topic {expected_topic!r}, not {message.topic!r}"
        await quarantine(ports, message, "unroutable", detail)
        return None
    return event


@dataclass(frozen=True)
class PlannedDelivery:
    """A claimed delivery with its plan decided (the recipient's preferences read), not yet sent."""

    message: IncomingMessage
    event: LobEvent
    plan: NotificationPlan | Skip
    record: DeliveryRecord


async def attempt_delivery(message: IncomingMessage, event: LobEvent, claim: Claim, ports: DeliveryPorts) -> Attempt:
    """Decide and send one claimed delivery; the caller writes ``Attempt.record`` to the delivery log.

    Quarantines on a permanent NH refusal. Raises UpstreamUnavailableError when the
    event should be tried again later.
    """
    return await send_planned(await plan_delivery(message, event, claim, ports), ports)


async def plan_delivery(
    message: IncomingMessage, event: LobEvent, claim: Claim, ports: DeliveryPorts
) -> PlannedDelivery:
    """Read the recipient's preferences and decide what to send. Raises UpstreamUnavailableError when storage is
    unavailable for now."""
    recipient = recipient_user_id(event)
    preferences, devices = await asyncio.gather(
        ports.preferences.get(recipient) if recipient else _none(),
        ports.installations.list_for_user(recipient) if recipient and ports.installations else _none(),
    )
    record = DeliveryRecord(
        event_id=event.key,
        subscription=message.subscription,
        state=DeliveryState.SKIPPED,
        attempt=claim.attempt,
        claimed_at=ports.now(),
        event_type=event.type,
    )
    plan = plan_notification(event, preferences, ports.now())
    if devices == [] and not isinstance(plan, Skip):
        plan = Skip(Reason.NO_DEVICE)  # the mirror has every device NH has (it is written first): nobody to tell
    return PlannedDelivery(message, event, plan, record)


async def _none() -> None:
    return None


async def send_planned(planned: PlannedDelivery, ports: DeliveryPorts) -> Attempt:
    """Send what ``plan_delivery`` decided; the caller writes ``Attempt.record`` to the delivery log.

    Quarantines on a permanent NH refusal. Raises UpstreamUnavailableError when the send should be tried again later.
    """
    message, event, plan, record = planned.message, planned.event, planned.plan, planned.record
    if isinstance(plan, Skip):
        logger.info("skipped event_id=%s: %s", event.id, plan.reason)
        await note_skipped(ports, message, event, plan.reason)
        return Attempt(DispatchResult.SKIPPED, _finished(record, DeliveryState.SKIPPED, ports, outcome=plan.reason))

    if plan.inbox is not None:
        # Secure payload: the content waits in the recipient's inbox before the neutral push points at it.
        if ports.inbox is None:
            raise ConfigError(f"{event.type} is sensitive, and no inbox store is configured")
        await ports.inbox.put(plan.inbox)
    started = time.perf_counter()
    try:
        result = await ports.push.send(template_notification(plan.properties), tag_expression=plan.audience)
    except (PushRejectedError, ValidationError) as exc:
        detail = exc.detail
        await quarantine(ports, message, "nh_rejected", f"Notification Hubs refused the send: {detail}", event)
        failed = _finished(record, DeliveryState.FAILED, ports, outcome=type(exc).__name__, audience=plan.audience)
        return Attempt(DispatchResult.QUARANTINED, failed)
    send_ms = (time.perf_counter() - started) * 1000
    logger.info(
        "sent event_id=%s type=%s audience=%s notification_id=%s in %.1f ms",
        event.id,
        event.type,
        plan.audience,
        result.notification_id,
        send_ms,
    )
    await note_sent(ports, message, event, plan, result)
    sent = _finished(
        record,
        DeliveryState.SENT,
        ports,
        outcome="enqueued",
        audience=plan.audience,
        notification_id=result.notification_id,
        tracking_id=result.tracking_id,
        correlation_id=result.correlation_id,
        send_ms=send_ms,
    )
    return Attempt(DispatchResult.SENT, sent)


async def record_outcome(ports: DeliveryPorts, claim: Claim, record: DeliveryRecord) -> None:
    """Write a delivery's outcome without ever raising a transient error: after a push NH accepted, handing the
    message back could only push it again or dead-letter an event the phone already has. The write is retried
    with the redelivery backoff; if storage stays away, the claim turns stale and the outcome is only in the logs.
    """
    for attempt in range(1, ports.finish_attempts + 1):
        try:
            await ports.deliveries.finish(claim, record)
            return
        except UpstreamUnavailableError:
            if attempt == ports.finish_attempts:
                break
            await asyncio.sleep(ports.redelivery_backoff(attempt))
        except ConflictError:
            logger.error("event_id=%s was taken over by another delivery while this one sent it", claim.event_id)
            return
    if record.state is DeliveryState.SENT:
        logger.error(
            "event_id=%s was pushed (notification_id=%s) but the delivery log could not record it",
            claim.event_id,
            record.notification_id,
        )
    else:
        logger.warning("event_id=%s: outcome %s could not be recorded", claim.event_id, record.state.value)


async def claim_delivery(
    ports: DeliveryPorts, event_id: str, subscription: str, *, first: Claim | None = None, deadline: float | None = None
) -> Claim:
    """Claim the delivery; while another delivery holds a fresh claim, wait for it to finish or turn stale.

    ``first`` is an answer already in hand; ``deadline`` (time.monotonic) defaults to ``stale_after`` from now.
    Raises DeliveryInProgressError when the other delivery still holds it at the deadline.
    """
    if deadline is None:
        deadline = time.monotonic() + ports.stale_after.total_seconds()
    claim = first
    while True:
        if claim is None:
            claim = await ports.deliveries.claim(event_id, subscription, now=ports.now(), stale_after=ports.stale_after)
        if claim.status is not ClaimStatus.IN_PROGRESS:
            return claim
        if time.monotonic() >= deadline:
            raise DeliveryInProgressError(f"event {event_id} is being delivered by another invocation")
        await asyncio.sleep(ports.in_progress_poll)
        claim = None


def _finished(record: DeliveryRecord, state: DeliveryState, ports: DeliveryPorts, **fields: Any) -> DeliveryRecord:
    return replace(record, state=state, finished_at=ports.now(), **fields)


async def quarantine(
    ports: DeliveryPorts, message: IncomingMessage, reason: str, description: str, event: LobEvent | None = None
) -> None:
    await ports.quarantine.add(
        QuarantinedMessage(
            id=quarantine_id(message),
            topic=message.topic,
            subscription=message.subscription,
            message_id=message.message_id,
            reason=reason,
            description=description,
            body=message.body,
            content_type=message.content_type,
            subject=message.subject,
            application_properties=dict(message.application_properties),
            quarantined_at=ports.now(),
        )
    )
    logger.warning(
        "quarantined message_id=%s topic=%s subscription=%s reason=%s",
        message.message_id,
        message.topic,
        message.subscription,
        reason,
    )
    await note_quarantined(ports, message, event, reason, description)
