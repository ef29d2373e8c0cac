"""Running a send: choose targets, fan out (unless in sink mode), keep the record for telemetry.

Targets are chosen among the installations the state's tag index names as candidates, so a send to one user's tag
looks at that user's installations only. ``run_send_async`` (what the HTTP route uses) does the same work in chunks
of ``CHUNK`` installations and yields to the event loop between them, so a broadcast to a large audience does not
stall other requests; the route still answers once the fan-out is recorded, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from local.nh_emulator.context import Emulator
from local.nh_emulator.fanout import Target, deliver, direct_targets, select_targets
from local.nh_emulator.notifications import SendRequest
from local.nh_emulator.state import NotificationRecord

__all__ = ["CHUNK", "run_direct_send", "run_send", "run_send_async"]

logger = logging.getLogger(__name__)

CHUNK = 1_000


def _record(emulator: Emulator, send: SendRequest, notification_id: str, location: str | None) -> NotificationRecord:
    now = emulator.config.clock()
    return NotificationRecord(notification_id, send.format, send.body, send.tag_expression, now, location=location)


def _finish(
    emulator: Emulator, record: NotificationRecord, targets: Sequence[Target], send: SendRequest
) -> NotificationRecord:
    if emulator.config.sink:
        return record
    deliver(emulator.state, record, targets, send, emulator.config.clock())
    emulator.state.notifications[record.notification_id] = record
    logger.info("Notification %s (%s) reached %d registrations", record.notification_id, send.format, len(targets))
    return record


def run_send(
    emulator: Emulator, send: SendRequest, notification_id: str, *, location: str | None, limit: int | None = None
) -> NotificationRecord:
    """A tag or broadcast send (``limit`` caps the registrations, as test sends reach at most 10)."""
    record = _record(emulator, send, notification_id, location)
    if emulator.config.sink:
        return record
    targets = select_targets(
        emulator.state.candidate_installations(send.expression),
        send,
        case_sensitive=emulator.config.tag_case_sensitive,
    )
    return _finish(emulator, record, targets[:limit] if limit is not None else targets, send)


async def run_send_async(
    emulator: Emulator, send: SendRequest, notification_id: str, *, location: str | None, limit: int | None = None
) -> NotificationRecord:
    """``run_send``, yielding to the event loop every ``CHUNK`` installations (selection and delivery)."""
    record = _record(emulator, send, notification_id, location)
    if emulator.config.sink:
        return record
    if send.expression is not None:
        await emulator.state.prepare_index()
    candidates = emulator.state.candidate_installations(send.expression)
    targets: list[Target] = []
    for start in range(0, len(candidates), CHUNK):
        chunk = candidates[start : start + CHUNK]
        targets += select_targets(chunk, send, case_sensitive=emulator.config.tag_case_sensitive)
        if limit is not None and len(targets) >= limit:
            break
        if start + CHUNK < len(candidates):
            await asyncio.sleep(0)
    if limit is not None:
        targets = targets[:limit]
    if len(targets) <= CHUNK:
        return _finish(emulator, record, targets, send)
    now = emulator.config.clock()
    for start in range(0, len(targets), CHUNK):
        deliver(emulator.state, record, targets[start : start + CHUNK], send, now)
        await asyncio.sleep(0)
    record.start_time = now
    emulator.state.notifications[record.notification_id] = record
    logger.info("Notification %s (%s) reached %d registrations", record.notification_id, send.format, len(targets))
    return record


def run_direct_send(
    emulator: Emulator, send: SendRequest, handles: Sequence[str], notification_id: str, *, location: str | None
) -> NotificationRecord:
    """A direct send to explicit PNS handles (no installation needed)."""
    record = _record(emulator, send, notification_id, location)
    if emulator.config.sink or send.platform is None:
        return record
    targets = direct_targets(emulator.state.visible_installations(), handles, send.platform)
    return _finish(emulator, record, targets, send)
