"""A DeliveryLog that lets concurrent deliveries share batch calls (group commit).

A worker process runs many single-message invocations at once (maxConcurrentCalls). Each claims one delivery-log
row before its send and records the outcome after it. This wrapper sends the claims (and the records) that arrive
while the previous call is in flight together in the next ``claim_many`` (``finish_many``): one Tables transaction
per partition instead of one request per event. Nothing waits on a timer: a lone claim goes out at once, and every
caller gets the answer ``claim`` or ``finish`` would have given it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from shared.domain.errors import ConflictError, UpstreamUnavailableError
from shared.domain.records import Claim, DeliveryRecord, FinishReport
from shared.ports import DeliveryLog

__all__ = ["GroupingDeliveryLog"]

Request = TypeVar("Request")
Answer = TypeVar("Answer")
_ClaimRequest = tuple[str, str, datetime, timedelta]
_Outcome = tuple[Claim, DeliveryRecord]


class _Group(Generic[Request, Answer]):
    """Runs ``flush`` over the requests queued while the previous flush ran; each caller awaits its own answer.

    ``flush`` returns one answer or exception per request, in order; if it raises, every request of the call gets
    that error.
    """

    def __init__(self, flush: Callable[[list[Request]], Awaitable[list[Answer | BaseException]]]) -> None:
        self._flush = flush
        self._queue: list[tuple[Request, asyncio.Future[Answer]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, request: Request) -> Answer:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                answers = await self._flush([request for request, _ in batch])
            except asyncio.CancelledError:  # the loop is closing: nobody may wait forever for an answer
                for _, future in batch + self._queue:
                    future.cancel()
                raise
            except Exception as exc:
                answers = [exc] * len(batch)
            for (_, future), answer in zip(batch, answers, strict=True):
                if future.done():  # its caller was cancelled
                    continue
                if isinstance(answer, BaseException):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)


class GroupingDeliveryLog:
    """DeliveryLog over another one (the Tables log), grouping concurrent ``claim`` and ``finish`` calls."""

    def __init__(self, inner: DeliveryLog) -> None:
        self._inner = inner
        self._claims: _Group[_ClaimRequest, Claim] = _Group(self._claim_group)
        self._finishes: _Group[_Outcome, None] = _Group(self._finish_group)

    async def claim(self, event_id: str, subscription: str, *, now: datetime, stale_after: timedelta) -> Claim:
        return await self._claims.submit((event_id, subscription, now, stale_after))

    async def finish(self, claim: Claim, record: DeliveryRecord) -> None:
        if claim.etag is None:
            raise ConflictError("this claim holds no etag: only CLAIMED or RESUMED claims can be finished")
        await self._finishes.submit((claim, record))

    async def claim_many(
        self, event_ids: Sequence[str], subscription: str, *, now: datetime, stale_after: timedelta
    ) -> dict[str, Claim]:
        return await self._inner.claim_many(event_ids, subscription, now=now, stale_after=stale_after)

    async def finish_many(self, outcomes: Sequence[_Outcome]) -> FinishReport:
        return await self._inner.finish_many(outcomes)

    async def release(self, claim: Claim) -> None:
        await self._inner.release(claim)

    async def forget(self, event_id: str, subscription: str) -> None:
        await self._inner.forget(event_id, subscription)

    async def get(self, event_id: str, subscription: str) -> DeliveryRecord | None:
        return await self._inner.get(event_id, subscription)

    async def _claim_group(self, requests: list[_ClaimRequest]) -> list[Claim | BaseException]:
        answers: dict[int, Claim | BaseException] = {}
        by_call: dict[tuple[str, timedelta], dict[str, int]] = {}
        one_by_one: list[int] = []
        for index, (event_id, subscription, _, stale_after) in enumerate(requests):
            firsts = by_call.setdefault((subscription, stale_after), {})
            if event_id in firsts:
                one_by_one.append(index)  # a second delivery of the same event: claimed after the first, on its own
            else:
                firsts[event_id] = index
        latest = max(now for _, _, now, _ in requests)
        for (subscription, stale_after), firsts in by_call.items():
            if len(firsts) == 1:  # a lone claim is a plain insert: a one-row transaction costs more
                one_by_one.extend(firsts.values())
                continue
            try:
                claims = await self._inner.claim_many(list(firsts), subscription, now=latest, stale_after=stale_after)
            except Exception as exc:
                answers.update((index, exc) for index in firsts.values())
            else:
                answers.update((index, claims[event_id]) for event_id, index in firsts.items())
        for index in one_by_one:
            event_id, subscription, now, stale_after = requests[index]
            try:
                answers[index] = await self._inner.claim(event_id, subscription, now=now, stale_after=stale_after)
            except Exception as exc:
                answers[index] = exc
        return [answers[index] for index in range(len(requests))]

    async def _finish_group(self, outcomes: list[_Outcome]) -> list[BaseException | None]:
        keys = [(claim.subscription, claim.event_id) for claim, _ in outcomes]
        # A lone record is a plain replace (a one-row transaction costs more); a repeated key never happens in
        # practice (one claim is finished once) but must not be folded into one row.
        if len(outcomes) == 1 or len(set(keys)) != len(keys):
            return [await _answer_of(self._inner.finish(claim, record)) for claim, record in outcomes]
        report = await self._inner.finish_many(outcomes)
        conflicts = {(claim.subscription, claim.event_id) for claim in report.conflicts}
        unwritten = {(claim.subscription, claim.event_id) for claim, _ in report.unwritten}
        answers: list[BaseException | None] = []
        for key in keys:
            if key in conflicts:
                answers.append(ConflictError(f"delivery {key[1]}/{key[0]} was taken over by another attempt"))
            elif key in unwritten:
                answers.append(UpstreamUnavailableError("Tables unavailable while recording a delivery"))
            else:
                answers.append(None)
        return answers


async def _answer_of(call: Awaitable[None]) -> BaseException | None:
    try:
        await call
    except Exception as exc:
        return exc
    return None
