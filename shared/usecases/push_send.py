"""The push step of a delivery: read the recipient's preferences and plan the template send, send it, and write
its outcome to the delivery log without ever handing back a push NH already accepted."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from shared.domain.decisions import Reason
from shared.domain.errors import (
    ConfigError,
    ConflictError,
    PushRejectedError,
    UpstreamUnavailableError,
    ValidationError,
)
from shared.domain.events import LobEvent
from shared.domain.notification_plan import NotificationPlan, Skip, plan_notification, recipient_user_id
from shared.domain.records import Claim, DeliveryRecord, DeliveryState, InstallationRecord, Preferences
from shared.notification_hubs.models import template_notification
from shared.ports import DeliveryPorts
from shared.usecases.decisions import note_sent, note_skipped
from shared.usecases.incoming import DispatchResult, IncomingMessage, quarantine

__all__ = [
    "Attempt",
    "PlannedDelivery",
    "Recipient",
    "finished",
    "plan_delivery",
    "read_recipient",
    "record_outcome",
    "send_planned",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """What one claimed delivery came to, and the delivery-log row that records it."""

    result: DispatchResult
    record: DeliveryRecord


@dataclass(frozen=True)
class PlannedDelivery:
    """A claimed delivery with its plan decided (the recipient's preferences read), not yet sent."""

    message: IncomingMessage
    event: LobEvent
    plan: NotificationPlan | Skip
    record: DeliveryRecord
    preferences: Preferences | None = None
    # The recipient has no device in the mirror: a push would reach nobody (in-app still can).
    no_device: bool = False
    # The recipient's devices as the mirror listed them (None when not read): their language, without a second read.
    devices: list[InstallationRecord] | None = None


@dataclass(frozen=True)
class Recipient:
    """What the plan reads of an event's recipient: preferences and devices (None when not read: a broadcast)."""

    preferences: Preferences | None = None
    devices: list[InstallationRecord] | None = None


async def read_recipient(event: LobEvent, ports: DeliveryPorts) -> Recipient:
    """Read the event's recipient's preferences and devices (nothing for a broadcast), both at once. One read of the
    mirror answers both "has the recipient any device?" and "in which language?". Raises UpstreamUnavailableError."""
    user = recipient_user_id(event)
    if user is None:
        return Recipient()
    preferences, devices = await asyncio.gather(
        ports.preferences.get(user),
        ports.installations.list_for_user(user) if ports.installations else _none(),
    )
    return Recipient(preferences, devices)


async def plan_delivery(
    message: IncomingMessage, event: LobEvent, claim: Claim, ports: DeliveryPorts, recipient: Recipient | None = None
) -> PlannedDelivery:
    """Decide what to send, from ``recipient`` when the caller read it already (alongside the claim). Raises
    UpstreamUnavailableError when storage is unavailable for now."""
    if recipient is None:
        recipient = await read_recipient(event, ports)
    preferences, devices = recipient.preferences, recipient.devices
    record = DeliveryRecord(
        event_id=event.key,
        subscription=message.subscription,
        state=DeliveryState.SKIPPED,
        attempt=claim.attempt,
        claimed_at=ports.now(),
        event_type=event.type,
    )
    plan = plan_notification(event, preferences, ports.now())
    # The mirror has every device NH has (it is written first): with none, a push would tell nobody. Only a
    # deployment that records decisions skips on it (the ledger then says why nobody was told).
    no_device = ports.ledger is not None and devices == []
    return PlannedDelivery(message, event, plan, record, preferences, no_device=no_device, devices=devices)


async def _none() -> None:
    return None


async def send_planned(planned: PlannedDelivery, ports: DeliveryPorts) -> Attempt:
    """Send what ``plan_delivery`` decided; the caller writes ``Attempt.record`` to the delivery log.

    Quarantines on a permanent NH refusal. Raises UpstreamUnavailableError when the send should be tried again later.
    """
    message, event, plan, record = planned.message, planned.event, planned.plan, planned.record
    if planned.no_device and not isinstance(plan, Skip):
        plan = Skip(Reason.NO_DEVICE)
    if isinstance(plan, Skip):
        logger.info("skipped event_id=%s: %s", event.id, plan.reason)
        await note_skipped(ports, message, event, plan.reason)
        return Attempt(DispatchResult.SKIPPED, finished(record, DeliveryState.SKIPPED, ports, outcome=plan.reason))

    if plan.secure_item is not None:
        # Secure payload: the content is kept for its recipient before the neutral push points at it.
        if ports.secure_content is None:
            raise ConfigError(f"{event.type} is sensitive, and no secure content store is configured")
        await ports.secure_content.put(plan.secure_item)
    started = time.perf_counter()
    try:
        result = await ports.push.send(template_notification(plan.properties), tag_expression=plan.audience)
    except (PushRejectedError, ValidationError) as exc:
        detail = exc.detail
        await quarantine(ports, message, "nh_rejected", f"Notification Hubs refused the send: {detail}", event)
        failed = finished(record, DeliveryState.FAILED, ports, outcome=type(exc).__name__, audience=plan.audience)
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
    sent = finished(
        record,
        DeliveryState.SENT,
        ports,
        outcome="enqueued",
        audience=plan.audience,
        notification_id=result.notification_id,
        tracking_id=result.tracking_id,
        correlation_id=result.correlation_id,
        send_ms=send_ms,
        channel="push",
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
            "event_id=%s was delivered (channel=%s, notification_id=%s) but the delivery log could not record it",
            claim.event_id,
            record.channel,
            record.notification_id,
        )
    else:
        logger.warning("event_id=%s: outcome %s could not be recorded", claim.event_id, record.state.value)


def finished(record: DeliveryRecord, state: DeliveryState, ports: DeliveryPorts, **fields: Any) -> DeliveryRecord:
    return replace(record, state=state, finished_at=ports.now(), **fields)
