"""Use case: the scheduled fallback message of an in-app notification comes due: push it unless the app confirmed it.

Exactly one of "seen in-app" or "pushed": the inbox entry's decision leaves PENDING by a conditional write, for SEEN
(the app's confirmation) or for PUSH (here), whichever comes first. The push itself is claimed in the delivery log
under (event id, ``fallback``), so a redelivered fallback message (a crash, a restart) never pushes twice.
"""

from __future__ import annotations

import logging
from contextlib import suppress

from shared.domain.errors import UpstreamError, UpstreamUnavailableError
from shared.domain.inbox import with_push
from shared.domain.records import ClaimStatus, DeliveryRecord, DeliveryState
from shared.ports import DeliveryPorts
from shared.usecases.channel_delivery import decide_push, update_entry
from shared.usecases.delivery import claim_delivery, hold_before_redelivery
from shared.usecases.incoming import DispatchResult, IncomingMessage, quarantine, route_message
from shared.usecases.push_send import finished, plan_delivery, record_outcome, send_planned

__all__ = ["settle_fallback"]

logger = logging.getLogger(__name__)


async def settle_fallback(message: IncomingMessage, ports: DeliveryPorts) -> DispatchResult:
    """Push the notification unless it was seen. Raises UpstreamUnavailableError when the bus should redeliver."""
    try:
        return await _settle(message, ports)
    except UpstreamUnavailableError as exc:
        await hold_before_redelivery(message, ports, exc)
        raise


async def _settle(message: IncomingMessage, ports: DeliveryPorts) -> DispatchResult:
    event = await route_message(message, ports, check_topic=False)
    if event is None:
        return DispatchResult.QUARANTINED
    user = message.application_properties.get("userId")
    if not user or ports.inbox is None:
        await quarantine(ports, message, "unroutable", "a fallback message needs a userId and an inbox")
        return DispatchResult.QUARANTINED
    claim = await claim_delivery(ports, event.key, message.subscription)
    if claim.status is ClaimStatus.DONE:
        return DispatchResult.DUPLICATE
    record = DeliveryRecord(
        event.key, message.subscription, DeliveryState.SKIPPED, claim.attempt, ports.now(), event.type
    )
    try:
        # The id the entry was stored under, as the fallback was scheduled with it (older messages lack it).
        scheduled_with = message.application_properties.get("notificationId")
        notification = scheduled_with if isinstance(scheduled_with, str) and scheduled_with else event.notification_id
        entry = await ports.inbox.get(user, notification)
        decided = entry if entry is None else await decide_push(ports.inbox, entry)
        if entry is not None and decided is None:
            logger.info("event_id=%s was seen in-app in time: no push", event.id)
            await ports.deliveries.finish(claim, finished(record, DeliveryState.SKIPPED, ports, outcome="seen-in-app"))
            return DispatchResult.SKIPPED
        if decided is not None and decided.pushed_at is not None:
            await ports.deliveries.finish(claim, finished(record, DeliveryState.SKIPPED, ports, outcome="pushed"))
            return DispatchResult.SKIPPED
        attempt = await send_planned(await plan_delivery(message, event, claim, ports), ports)
    except UpstreamUnavailableError:
        with suppress(UpstreamUnavailableError):
            await ports.deliveries.release(claim)
        raise
    if attempt.result is not DispatchResult.SENT:
        await ports.deliveries.finish(claim, attempt.record)
        return attempt.result
    logger.info("event_id=%s was not confirmed in time: pushed", event.id)
    if decided is not None:
        with suppress(UpstreamError):  # pushed already: never hand the message back for this
            await update_entry(ports.inbox, decided, lambda stored: with_push(stored, ports.now()))
    await record_outcome(ports, claim, finished(attempt.record, DeliveryState.SENT, ports, outcome="not-seen-in-time"))
    return DispatchResult.SENT
