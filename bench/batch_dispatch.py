"""Use case: a batch of messages from one push subscription (a ``cardinality="many"`` trigger).

Every message gets what ``deliver_message`` would give it, with fewer storage round trips: the batch is claimed at
once (one Tables transaction per partition), the sends run concurrently, and each outcome is recorded as its send
returns (wrapped in shared/adapters/delivery_log_grouping.py, records that arrive together share transactions). The host
settles a batch as one: returning completes every message, raising abandons every one. So when an event fails for
now, the others are recorded first; the batch is then held and handed back, and on redelivery the recorded events
are completed without a second push.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from shared.composition import root as bootstrap
from shared.domain.errors import UpstreamUnavailableError
from shared.domain.events import LobEvent
from shared.domain.records import Claim, ClaimStatus
from shared.usecases.delivery import (
    Attempt,
    DeliveryPorts,
    DispatchResult,
    IncomingMessage,
    PlannedDelivery,
    claim_delivery,
    plan_delivery,
    record_outcome,
    route_message,
    send_planned,
)

__all__ = ["BatchLimits", "deliver_batch"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchLimits:
    send_concurrency: int = 32
    # Azure renews no message locks for batch functions (the lock is PT1M): a batch that must be handed back is
    # handed back within this many seconds of its start, waits for other deliveries and the hold included.
    hold_budget: float = 45.0


@dataclass(frozen=True)
class _Claimed:
    message: IncomingMessage
    event: LobEvent
    claim: Claim


# Events that could not be delivered now, with their claim when they held one.
_Failures = list[tuple[Claim | None, BaseException]]


async def deliver_batch(
    messages: Sequence[IncomingMessage], ports: DeliveryPorts, limits: BatchLimits | None = None
) -> list[DispatchResult]:
    """Handle a batch from one subscription; the results are in the messages' order.

    Raises UpstreamUnavailableError (after holding the batch for ``redelivery_backoff``) when any message should be
    redelivered, and any other error an event's delivery raised, after finishing what could be finished.
    """
    limits = limits or BatchLimits()
    if len({message.subscription for message in messages}) > 1:
        raise ValueError("a batch comes from one subscription")
    deadline = time.monotonic() + limits.hold_budget
    try:
        return await _deliver_batch(messages, ports, limits, deadline)
    except UpstreamUnavailableError as exc:
        delivery_count = max(message.delivery_count for message in messages)
        delay = min(ports.redelivery_backoff(delivery_count), max(deadline - time.monotonic(), 0.0))
        logger.warning(
            "batch of %s messages failed for now (%s: %s); handing it back to the bus in %.0f s",
            len(messages),
            type(exc).__name__,
            exc,
            delay,
        )
        await asyncio.sleep(delay)
        raise


async def _deliver_batch(
    messages: Sequence[IncomingMessage], ports: DeliveryPorts, limits: BatchLimits, deadline: float
) -> list[DispatchResult]:
    results: list[DispatchResult] = [DispatchResult.QUARANTINED] * len(messages)
    firsts = await _route_all(messages, ports, results)
    if not firsts:
        return results

    subscription = messages[0].subscription
    claims = await ports.deliveries.claim_many(
        [event.key for _, event in firsts.values()], subscription, now=ports.now(), stale_after=ports.stale_after
    )
    claimed, failures = await _settle_claims(firsts, claims, ports, results, deadline)
    semaphore = asyncio.Semaphore(limits.send_concurrency)
    # Every plan first, so that the preference reads are done before the first push: while the batch sends, the
    # delivery-log writes have storage to themselves and stay close behind the pushes.
    planned = await _plan_all(claimed, ports, semaphore, failures)
    await _send_all(planned, ports, semaphore, results, failures)
    if failures:
        await _hand_back(failures, ports)
    return results


async def _plan_all(
    claimed: dict[int, _Claimed], ports: DeliveryPorts, semaphore: asyncio.Semaphore, failures: _Failures
) -> dict[int, tuple[Claim, PlannedDelivery]]:
    async def plan(item: _Claimed) -> PlannedDelivery:
        async with semaphore:
            return await plan_delivery(item.message, item.event, item.claim, ports)

    answers = await asyncio.gather(*(plan(item) for item in claimed.values()), return_exceptions=True)
    planned: dict[int, tuple[Claim, PlannedDelivery]] = {}
    for (index, item), answer in zip(claimed.items(), answers, strict=True):
        if isinstance(answer, PlannedDelivery):
            planned[index] = (item.claim, answer)
        else:
            failures.append((item.claim, answer))
    return planned


async def _send_all(
    planned: dict[int, tuple[Claim, PlannedDelivery]],
    ports: DeliveryPorts,
    semaphore: asyncio.Semaphore,
    results: list[DispatchResult],
    failures: _Failures,
) -> None:
    """Send every planned event and record each outcome as soon as its send returns (a grouping delivery log puts
    records that arrive together into shared transactions): the window in which a crash would push again stays one
    record write long, not the length of the batch."""

    async def send(claim: Claim, delivery: PlannedDelivery) -> Attempt:
        async with semaphore:
            answer = await send_planned(delivery, ports)
        await record_outcome(ports, claim, answer.record)
        return answer

    answers = await asyncio.gather(*(send(*pair) for pair in planned.values()), return_exceptions=True)
    for (index, (claim, _)), answer in zip(planned.items(), answers, strict=True):
        if isinstance(answer, Attempt):
            results[index] = answer.result
        else:
            failures.append((claim, answer))


async def _route_all(
    messages: Sequence[IncomingMessage], ports: DeliveryPorts, results: list[DispatchResult]
) -> dict[int, tuple[IncomingMessage, LobEvent]]:
    """Parse every message (quarantining the undeliverable); the first message of each event id, by index."""
    events = await asyncio.gather(*(route_message(message, ports) for message in messages))
    firsts: dict[int, tuple[IncomingMessage, LobEvent]] = {}
    seen: set[str] = set()
    for index, (message, event) in enumerate(zip(messages, events, strict=True)):
        if event is None:
            continue
        if event.key in seen:
            logger.info("duplicate event=%s in one batch (message_id=%s)", event.key, message.message_id)
            results[index] = DispatchResult.DUPLICATE
            continue
        seen.add(event.key)
        firsts[index] = (message, event)
    return firsts


async def _settle_claims(
    firsts: dict[int, tuple[IncomingMessage, LobEvent]],
    claims: dict[str, Claim],
    ports: DeliveryPorts,
    results: list[DispatchResult],
    deadline: float,
) -> tuple[dict[int, _Claimed], _Failures]:
    """Sort the claims: finished events are duplicates, fresh claims of others are waited for until ``deadline``."""

    async def settle(message: IncomingMessage, event: LobEvent) -> Claim:
        first = claims[event.key]
        if first.status is not ClaimStatus.IN_PROGRESS:
            return first
        return await claim_delivery(ports, event.key, message.subscription, first=first, deadline=deadline)

    answers = await asyncio.gather(
        *(settle(message, event) for message, event in firsts.values()), return_exceptions=True
    )
    claimed: dict[int, _Claimed] = {}
    failures: _Failures = []
    for (index, (message, event)), answer in zip(firsts.items(), answers, strict=True):
        if isinstance(answer, BaseException):
            failures.append((None, answer))
        elif answer.status is ClaimStatus.DONE:
            logger.info("duplicate event=%s subscription=%s: already delivered", event.key, message.subscription)
            results[index] = DispatchResult.DUPLICATE
        else:
            claimed[index] = _Claimed(message, event, answer)
    return claimed, failures


async def _hand_back(failures: list[tuple[Claim | None, BaseException]], ports: DeliveryPorts) -> None:
    """Release the failed events' claims so the redelivery may take them at once, and raise the first error."""
    await asyncio.gather(
        *(ports.deliveries.release(claim) for claim, _ in failures if claim is not None), return_exceptions=True
    )
    errors = [error for _, error in failures]
    logger.warning("%s events of the batch failed; the batch goes back to the bus", len(errors))
    permanent = next((error for error in errors if not isinstance(error, UpstreamUnavailableError)), None)
    raise permanent or errors[0]


async def deliver_many(messages: Sequence[IncomingMessage]) -> list[DispatchResult]:
    """Deliver a batch from one subscription with the process's services; raises when the bus should redeliver
    the whole batch."""
    return await deliver_batch(messages, bootstrap.services().delivery)
