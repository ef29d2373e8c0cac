"""Which channels carry one user's notification, and delivering it on them: in-app over SignalR while the user is
connected (with the push as a durable fallback), push otherwise, or both for critical entries.

Guarantees (docs/architecture.md): a redelivered event never sends a second in-app message or a second push; an
in-app message that is not confirmed in time is pushed once; SignalR down or slow means push now, never a retry.
The inbox entry is written first (insert-if-absent): a delivery that finds it already there is a resumed one and
only finishes what the first did not (it never re-sends in-app, since it cannot know whether that went out).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta

from shared.domain.catalog import CATALOG
from shared.domain.channels import (
    FALLBACK_SUBSCRIPTION,
    FALLBACK_TOPIC,
    INAPP_TARGET,
    InAppMessage,
    Route,
    choose_route,
    in_app_message,
)
from shared.domain.errors import ConflictError, NotFoundError, UpstreamError, UpstreamUnavailableError, ValidationError
from shared.domain.inbox import Decision, InboxEntry, new_entry, with_inapp_sent, with_push, with_push_decided
from shared.domain.languages import DEFAULT_LANGUAGE, resolve_language
from shared.domain.notification_plan import Skip
from shared.domain.records import DeliveryState, OutgoingMessage
from shared.ports import DeliveryPorts, InboxStore
from shared.usecases.incoming import DispatchResult
from shared.usecases.push_send import Attempt, PlannedDelivery, finished, send_planned

__all__ = ["decide_push", "deliver_planned", "fallback_message", "update_entry"]

logger = logging.getLogger(__name__)
_UPDATE_ROUNDS = 5


async def deliver_planned(planned: PlannedDelivery, ports: DeliveryPorts) -> Attempt:
    """Deliver a planned event on the channels its catalog entry and the user's presence call for.

    Raises UpstreamUnavailableError (Tables or NH unavailable for now) so that the bus redelivers.
    """
    plan = planned.plan
    if isinstance(plan, Skip) or plan.recipient_user_id is None or ports.inbox is None:
        return await send_planned(planned, ports)  # a broadcast, a skip, or no inbox: push as before
    user = plan.recipient_user_id
    entry = CATALOG[planned.event.type]
    language = await _language(user, planned, ports)
    message = in_app_message(planned.event, language, ports.now(), silent=plan.template == "silent")
    connected = entry.channels != "push" and await _connected(user, ports)
    route = choose_route(entry.channels, addressed_to_user=True, connected=connected)
    decision = Decision.PENDING if route is Route.INAPP_CONFIRMED else Decision.NONE
    stored = await ports.inbox.add(new_entry(user, message, decision))
    if stored is None:
        return await _resume(planned, user, ports, entry.fallback_after or ports.fallback_after)
    if route is Route.PUSH:
        return await _push(planned, stored, ports)
    if route is Route.INAPP_AND_PUSH:
        if await _send_inapp(user, message, ports):
            stored = await _note(ports.inbox, stored, lambda e: with_inapp_sent(e, ports.now()))
        return await _push(planned, stored, ports)
    return await _inapp_confirmed(planned, stored, message, ports, entry.fallback_after or ports.fallback_after)


async def _inapp_confirmed(
    planned: PlannedDelivery, stored: InboxEntry, message: InAppMessage, ports: DeliveryPorts, wait: timedelta
) -> Attempt:
    """Schedule the fallback first (durable), then send in-app; if either fails, push now instead."""
    assert ports.publisher is not None
    assert ports.inbox is not None
    try:
        await ports.publisher.schedule(FALLBACK_TOPIC, [fallback_message(planned, stored)], ports.now() + wait)
    except UpstreamError as exc:
        logger.warning("event_id=%s: cannot schedule the push fallback (%s); pushing now", stored.notification_id, exc)
        return await _push_instead(planned, stored, ports)
    if not await _send_inapp(stored.user_id, message, ports):
        return await _push_instead(planned, stored, ports)
    await _note(ports.inbox, stored, lambda e: with_inapp_sent(e, ports.now()))
    logger.info(
        "event_id=%s sent in-app to user; push in %.0f s unless seen", stored.notification_id, wait.total_seconds()
    )
    record = finished(
        planned.record,
        DeliveryState.SENT,
        ports,
        outcome="awaiting-confirmation",
        audience=_audience(planned),
        channel="inapp",
    )
    return Attempt(DispatchResult.SENT, record)


async def _push_instead(planned: PlannedDelivery, stored: InboxEntry, ports: DeliveryPorts) -> Attempt:
    assert ports.inbox is not None
    decided = await decide_push(ports.inbox, stored)
    if decided is None:  # confirmed meanwhile: nothing to push
        return Attempt(DispatchResult.SENT, finished(planned.record, DeliveryState.SENT, ports, outcome="seen"))
    return await _push(planned, decided, ports)


async def _push(planned: PlannedDelivery, stored: InboxEntry, ports: DeliveryPorts) -> Attempt:
    assert ports.inbox is not None
    attempt = await send_planned(planned, ports)
    if attempt.result is not DispatchResult.SENT:
        return attempt
    updated = await _note(ports.inbox, stored, lambda e: with_push(e, ports.now()))
    channel = "+".join(updated.channels) if updated.channels else "push"
    return Attempt(attempt.result, finished(attempt.record, DeliveryState.SENT, ports, channel=channel))


async def _resume(planned: PlannedDelivery, user: str, ports: DeliveryPorts, wait: timedelta) -> Attempt:
    """A redelivery after a crash or a transient failure: finish what the first delivery left undone."""
    assert ports.inbox is not None
    entry = await ports.inbox.get(user, planned.event.notification_id)
    if entry is None:  # removed since (retention): treat as never delivered
        return await send_planned(planned, ports)
    if entry.decision is Decision.PENDING:
        # In-app may or may not have gone out: never send it twice; make sure the fallback is scheduled.
        if ports.publisher is not None:
            await ports.publisher.schedule(FALLBACK_TOPIC, [fallback_message(planned, entry)], ports.now() + wait)
        record = finished(planned.record, DeliveryState.SENT, ports, outcome="awaiting-confirmation", channel="inapp")
        return Attempt(DispatchResult.SENT, record)
    if entry.decision is Decision.SEEN or entry.pushed_at is not None:
        channel = "+".join(entry.channels) or None
        return Attempt(DispatchResult.SENT, finished(planned.record, DeliveryState.SENT, ports, channel=channel))
    return await _push(planned, entry, ports)


def fallback_message(planned: PlannedDelivery, entry: InboxEntry) -> OutgoingMessage:
    """The scheduled message that settles "seen or push" later: the event itself plus who it is for."""
    digest = hashlib.sha256(entry.notification_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    source = planned.message
    return OutgoingMessage(
        message_id=f"fallback-{digest}",
        subject=planned.event.type,
        content_type=source.content_type or "application/cloudevents+json; charset=utf-8",
        body=source.body,
        application_properties={
            "type": planned.event.type,
            "userId": entry.user_id,
            "notificationId": entry.notification_id,
            "subscription": FALLBACK_SUBSCRIPTION,
        },
    )


async def decide_push(inbox: InboxStore, entry: InboxEntry) -> InboxEntry | None:
    """Settle a PENDING entry for the push (conditionally): the entry to push, or None when it was seen first."""
    for _ in range(_UPDATE_ROUNDS):
        if entry.decision is Decision.SEEN:
            return None
        if entry.decision is not Decision.PENDING:
            return entry
        try:
            return await inbox.replace(with_push_decided(entry))
        except ConflictError:
            found = await inbox.get(entry.user_id, entry.notification_id)
            if found is None:
                return entry
            entry = found
    raise UpstreamUnavailableError(f"inbox entry {entry.notification_id} keeps changing; try again later")


async def update_entry(inbox: InboxStore, entry: InboxEntry, change: Callable[[InboxEntry], InboxEntry]) -> InboxEntry:
    """Apply ``change`` to the stored entry, re-reading it after a concurrent write. Raises UpstreamError."""
    for _ in range(_UPDATE_ROUNDS):
        try:
            return await inbox.replace(change(entry))
        except ConflictError:
            found = await inbox.get(entry.user_id, entry.notification_id)
            if found is None:
                return entry
            entry = found
        except NotFoundError:
            return entry
    raise UpstreamUnavailableError(f"inbox entry {entry.notification_id} keeps changing; try again later")


async def _note(inbox: InboxStore, entry: InboxEntry, change: Callable[[InboxEntry], InboxEntry]) -> InboxEntry:
    """Record what was already sent. Never raises: handing the event back after a send would send it again (the
    delivery log still records the outcome); the inbox entry then only lags behind."""
    try:
        return await update_entry(inbox, entry, change)
    except UpstreamError as exc:
        logger.warning("inbox entry %s not updated after a send (%s)", entry.notification_id, type(exc).__name__)
        return change(entry)


async def _connected(user: str, ports: DeliveryPorts) -> bool:
    if ports.realtime is None or ports.publisher is None:
        return False
    try:
        return await ports.realtime.is_connected(user)
    except UpstreamError as exc:
        logger.warning("SignalR presence check failed (%s): pushing instead", type(exc).__name__)
        return False


async def _send_inapp(user: str, message: InAppMessage, ports: DeliveryPorts) -> bool:
    assert ports.realtime is not None
    try:
        await ports.realtime.send_to_user(user, INAPP_TARGET, [message.to_json()])
    except UpstreamError as exc:
        logger.warning("event_id=%s: in-app send failed (%s): pushing instead", message.id, type(exc).__name__)
        return False
    return True


async def _language(user: str, planned: PlannedDelivery, ports: DeliveryPorts) -> str:
    """The user's language: their preference, else their most recently registered device's, else the default.
    The devices come from the plan's read of the mirror; the mirror is asked here only when the plan did not."""
    preferences = planned.preferences
    tag = preferences.language if preferences is not None else None
    devices = planned.devices
    if tag is None and devices is None and ports.installations is not None:
        devices = await ports.installations.list_for_user(user)
    if tag is None and devices:
        tag = max(devices, key=lambda d: d.updated_at).language
    try:
        return resolve_language(tag)
    except ValidationError:
        return DEFAULT_LANGUAGE


def _audience(planned: PlannedDelivery) -> str | None:
    plan = planned.plan
    return None if isinstance(plan, Skip) else plan.audience
