"""Recording the delivery pipeline's decisions: one call per decision point of ``shared.usecases.delivery``.

Each ``note_*`` builds the ``Decision``, counts it in the metrics and writes it to the ledger. A ledger that is
down or slow never fails or holds up a delivery: the write is bounded by ``RECORD_TIMEOUT`` and a failure is
logged (with the decision, so the logs still answer the question) and otherwise ignored. The delivery log, not
the ledger, is what keeps a push from being sent twice; the ledger is the audit of why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from shared.domain.catalog import entry_for
from shared.domain.decisions import Decision, FailureCause, Outcome, Reason
from shared.domain.device_templates import TEMPLATE_NAMES
from shared.domain.errors import PushError, UpstreamError
from shared.domain.events import LobEvent
from shared.domain.notification_plan import NotificationPlan, recipient_user_id
from shared.domain.records import InstallationRecord
from shared.notification_hubs.models import SendResult
from shared.notification_hubs.tag_expressions import parse_tag_expression
from shared.notification_hubs.tag_matching import matches
from shared.ports import DeliveryPorts, InstallationMirror

__all__ = [
    "RECORD_TIMEOUT",
    "AudienceSizes",
    "IncomingFacts",
    "note_failed",
    "note_quarantined",
    "note_sent",
    "note_skipped",
    "record_decision",
]

logger = logging.getLogger(__name__)

RECORD_TIMEOUT = 2.0  # seconds one ledger write may add to a delivery
_AUDIENCE_TIMEOUT = 2.0


class IncomingFacts(Protocol):
    """What the decision helpers read of the message (``shared.usecases.delivery.IncomingMessage`` has it)."""

    @property
    def message_id(self) -> str | None: ...
    @property
    def subscription(self) -> str: ...
    @property
    def delivery_count(self) -> int: ...
    @property
    def enqueued_time(self) -> datetime | None: ...


def _aware(value: datetime | None) -> datetime | None:
    """A naive time from a binding is UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _occurred(event: LobEvent | None, facts: IncomingFacts, now: datetime) -> datetime:
    if event is not None and event.time is not None:
        return _aware(event.time) or now
    return _aware(facts.enqueued_time) or now


def _base(
    ports: DeliveryPorts, facts: IncomingFacts, event: LobEvent | None, outcome: Outcome, reason: str
) -> Decision:
    now = ports.now()
    return Decision(
        event_id=event.id if event is not None else (facts.message_id or "unknown"),
        event_type=event.type if event is not None else None,
        outcome=outcome,
        reason=reason,
        occurred_at=_occurred(event, facts, now),
        decided_at=now,
        user_id=recipient_user_id(event) if event is not None else None,
        trace_id=ports.trace_id(),
        subscription=facts.subscription,
        attempt=facts.delivery_count,
    )


async def record_decision(ports: DeliveryPorts, decision: Decision) -> None:
    """Count the decision and write it to the ledger; never raises, never waits longer than RECORD_TIMEOUT."""
    ports.metrics.decision(decision)
    if ports.ledger is None:
        return
    try:
        await asyncio.wait_for(ports.ledger.record(decision), RECORD_TIMEOUT)
    except (PushError, TimeoutError) as exc:
        logger.warning(
            "decision ledger unavailable (%s): event_id=%s user_id=%s outcome=%s reason=%s not recorded",
            type(exc).__name__,
            decision.event_id,
            decision.user_id,
            decision.outcome.value,
            decision.reason,
        )


# The plan's skip reasons (also written to the delivery log) as the ledger names them.
_SKIP_REASONS = {"debit_below_threshold": Reason.BELOW_THRESHOLD}


async def note_skipped(ports: DeliveryPorts, facts: IncomingFacts, event: LobEvent, reason: str) -> None:
    """Nothing was sent: below the owner's threshold, or the recipient has no device."""
    await record_decision(ports, _base(ports, facts, event, Outcome.SUPPRESSED, _SKIP_REASONS.get(reason, reason)))


async def note_sent(
    ports: DeliveryPorts, facts: IncomingFacts, event: LobEvent, plan: NotificationPlan, result: SendResult
) -> None:
    """NH accepted the send: ``sent``, or ``deferred`` when quiet hours turned an alert silent."""
    deferred = plan.template == "silent" and entry_for(event.type).delivery == "alert"
    outcome, reason = (Outcome.DEFERRED, Reason.QUIET_HOURS) if deferred else (Outcome.SENT, Reason.DELIVERED)
    decision = _base(ports, facts, event, outcome, reason)
    started = _aware(facts.enqueued_time or event.time)
    latency = None if started is None else max(0.0, (decision.decided_at - started).total_seconds())
    if latency is not None:
        ports.metrics.push_accepted(event.type, latency)
    size = None
    if decision.broadcast and ports.audience_sizes is not None:
        size = await ports.audience_sizes.size(plan.audience)
    await record_decision(
        ports,
        replace(
            decision,
            audience=plan.audience,
            audience_size=size,
            notification_id=result.notification_id,
            nh_outcome="enqueued",
            latency_ms=None if latency is None else latency * 1000,
            detail="sent silently (quiet hours): no banner, no sound" if deferred else None,
        ),
    )


async def note_quarantined(
    ports: DeliveryPorts, facts: IncomingFacts, event: LobEvent | None, reason: str, detail: str
) -> None:
    """The message was quarantined (its own fault, or NH refused the send for good)."""
    ports.metrics.dead_lettered("quarantine", reason)
    await record_decision(ports, replace(_base(ports, facts, event, Outcome.QUARANTINED, reason), detail=detail))


async def note_failed(ports: DeliveryPorts, facts: IncomingFacts, event: LobEvent, exc: UpstreamError) -> None:
    """A transient failure hands the message back to the bus; on its last delivery the broker dead-letters it."""
    cause = getattr(exc, "cause", None) or FailureCause.UNAVAILABLE
    last = facts.delivery_count >= ports.max_delivery_count
    if last:
        ports.metrics.dead_lettered("deadletter", str(cause))
    detail = f"{type(exc).__name__}: {exc}"[:500]
    decision = replace(_base(ports, facts, event, Outcome.FAILED, str(cause)), detail=detail, dead_lettered=last)
    await record_decision(ports, decision)


class AudienceSizes:
    """How many devices in the installations mirror a broadcast's tag expression reaches, cached for ``ttl``
    seconds per expression (a count reads the whole mirror). ``size`` answers None when the mirror is unavailable.
    """

    def __init__(self, installations: InstallationMirror, ttl: float = 60.0) -> None:
        self._installations = installations
        self._ttl = ttl
        self._cache: dict[str, tuple[float, int]] = {}
        # One read of the mirror at a time, and one count per expression: concurrent deliveries that miss the cache
        # share the read and the count in flight (else a burst of broadcasts reads the whole mirror, or matches
        # every row of it, once per concurrent invocation).
        self._reading: asyncio.Task[list[InstallationRecord]] | None = None
        self._counting: dict[str, asyncio.Future[int | None]] = {}

    async def size(self, expression: str) -> int | None:
        cached = self._cache.get(expression)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        counting = self._counting.get(expression)
        if counting is None:
            counting = self._counting[expression] = asyncio.ensure_future(self._count(expression))
            counting.add_done_callback(lambda _: self._counting.pop(expression, None))
        return await asyncio.shield(counting)

    async def _count(self, expression: str) -> int | None:
        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(asyncio.wait_for(self._installations.list_all(), _AUDIENCE_TIMEOUT))
        try:
            rows = await asyncio.shield(self._reading)
        except (PushError, TimeoutError) as exc:
            logger.warning("audience size of %s unknown: %s", expression, type(exc).__name__)
            return None
        parsed = parse_tag_expression(expression)
        count = sum(1 for row in rows if matches(parsed, [*row.tags, *TEMPLATE_NAMES]))
        self._cache[expression] = (time.monotonic(), count)
        return count
