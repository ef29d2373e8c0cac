"""Use case: one Service Bus message on a push subscription becomes at most one push and at most one in-app message.

Exactly-once in effect, on an at-least-once bus: the delivery log is claimed (insert-if-absent on
(event key, subscription); the key is ``source#id``, since only source and id together name one event) before
anything is sent and finished after it. A redelivery of a finished event is
completed without sending. A crash between claim and finish leaves a claim that turns stale after
``stale_after`` and is then resumed. Transient NH failures release the claim and raise, so the bus
redelivers; permanent failures are quarantined with their reason and completed. Which channels carry the
notification is decided in ``channel_delivery``; the push step is ``push_send``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress

from shared.domain.errors import UpstreamUnavailableError
from shared.domain.events import LobEvent
from shared.domain.records import Claim, ClaimStatus
from shared.ports import DeliveryPorts
from shared.usecases.channel_delivery import deliver_planned
from shared.usecases.decisions import note_failed
from shared.usecases.incoming import (
    DeliveryInProgressError,
    DispatchResult,
    IncomingMessage,
    quarantine,
    quarantine_id,
    route_message,
)
from shared.usecases.push_send import (
    Attempt,
    PlannedDelivery,
    Recipient,
    plan_delivery,
    read_recipient,
    record_outcome,
    send_planned,
)

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


async def deliver_message(message: IncomingMessage, ports: DeliveryPorts) -> DispatchResult:
    """Handle one message. Raises UpstreamUnavailableError when the bus should
    redeliver, after holding the message for ``redelivery_backoff(delivery_count)`` seconds."""
    try:
        return await _deliver(message, ports)
    except UpstreamUnavailableError as exc:
        await hold_before_redelivery(message, ports, exc)
        raise


async def hold_before_redelivery(message: IncomingMessage, ports: DeliveryPorts, exc: Exception) -> None:
    delay = ports.redelivery_backoff(message.delivery_count)
    logger.warning(
        "transient failure on message_id=%s delivery=%s (%s); handing it back to the bus in %.0f s",
        message.message_id,
        message.delivery_count,
        type(exc).__name__,
        delay,
    )
    await asyncio.sleep(delay)


async def _deliver(message: IncomingMessage, ports: DeliveryPorts) -> DispatchResult:
    event = await route_message(message, ports)
    if event is None:
        return DispatchResult.QUARANTINED
    # The recipient's reads do not depend on the claim: they go out with it (a duplicate wastes them).
    reading = asyncio.ensure_future(read_recipient(event, ports))
    try:
        claim = await claim_delivery(ports, event.key, message.subscription)
    except BaseException:
        await _abandon(reading)
        raise
    if claim.status is ClaimStatus.DONE:
        await _abandon(reading)
        logger.info("duplicate event=%s subscription=%s: already delivered", event.key, message.subscription)
        return DispatchResult.DUPLICATE
    try:
        attempt = await deliver_planned(await plan_delivery(message, event, claim, ports, await reading), ports)
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


async def _abandon(reading: asyncio.Future[Recipient]) -> None:
    reading.cancel()
    await asyncio.gather(reading, return_exceptions=True)


async def attempt_delivery(message: IncomingMessage, event: LobEvent, claim: Claim, ports: DeliveryPorts) -> Attempt:
    """Decide and deliver one claimed event; the caller writes ``Attempt.record`` to the delivery log.

    Quarantines on a permanent NH refusal. Raises UpstreamUnavailableError when the
    event should be tried again later.
    """
    return await deliver_planned(await plan_delivery(message, event, claim, ports), ports)


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
