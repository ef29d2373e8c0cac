"""Running a send: choose targets, fan out (unless in sink mode), keep the record for telemetry."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from local.nh_emulator.context import Emulator
from local.nh_emulator.fanout import Target, deliver, direct_targets, select_targets
from local.nh_emulator.notifications import SendRequest
from local.nh_emulator.state import NotificationRecord

__all__ = ["run_direct_send", "run_send"]

logger = logging.getLogger(__name__)


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
        emulator.state.visible_installations(), send, case_sensitive=emulator.config.tag_case_sensitive
    )
    return _finish(emulator, record, targets[:limit] if limit is not None else targets, send)


def run_direct_send(
    emulator: Emulator, send: SendRequest, handles: Sequence[str], notification_id: str, *, location: str | None
) -> NotificationRecord:
    """A direct send to explicit PNS handles (no installation needed)."""
    record = _record(emulator, send, notification_id, location)
    if emulator.config.sink or send.platform is None:
        return record
    targets = direct_targets(emulator.state.visible_installations(), handles, send.platform)
    return _finish(emulator, record, targets, send)
