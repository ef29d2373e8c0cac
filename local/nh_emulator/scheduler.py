"""The background task that fires scheduled sends when their time comes."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.datastructures import Headers

from local.nh_emulator.context import Emulator
from local.nh_emulator.dispatch import run_send
from local.nh_emulator.notifications import parse_send
from local.nh_emulator.wire import EmulatorError

__all__ = ["fire_due", "run_scheduler"]

logger = logging.getLogger(__name__)


def fire_due(emulator: Emulator) -> int:
    """Send every scheduled notification whose time has come; returns how many fired."""
    now = emulator.config.clock()
    due = [item for item in emulator.state.scheduled.values() if item.due <= now]
    for item in sorted(due, key=lambda scheduled: scheduled.due):
        emulator.state.pop_scheduled(item.scheduled_id)
        try:
            send = parse_send(Headers(headers=item.headers), item.body.encode("utf-8"), direct=False)
        except EmulatorError as exc:  # validated when scheduled; only a hand-edited state file gets here
            logger.warning("Scheduled notification %s dropped: %s", item.scheduled_id, exc.detail)
            continue
        previous = emulator.state.notifications.get(item.scheduled_id)
        record = run_send(emulator, send, item.scheduled_id, location=item.location)
        if previous is not None:
            record.enqueue_time = previous.enqueue_time
        logger.info("Scheduled notification %s fired", item.scheduled_id)
    return len(due)


async def run_scheduler(emulator: Emulator, stop: asyncio.Event) -> None:
    """Poll for due scheduled sends every ``scheduler_interval`` seconds until ``stop`` is set."""
    while not stop.is_set():
        try:
            fire_due(emulator)
        except Exception:  # one broken send must not stop the scheduler
            logger.exception("Scheduled send failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), emulator.config.scheduler_interval)
