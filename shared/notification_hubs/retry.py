"""Bounded retries with exponential backoff and jitter for retryable NH failures, honouring Retry-After."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from shared.notification_hubs.errors import NhConfigurationError, NhRetryableError

__all__ = ["RetryPolicy", "Sleep", "call_with_retry"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

_system_random = random.SystemRandom()


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry: ``max_attempts`` counts the first try; ``total_budget`` is in seconds.

    The delay before retry n (1-based) is ``base_delay * 2**(n-1)`` capped at ``max_delay``, spread by
    +/- ``jitter`` (a fraction). A Retry-After from NH replaces that delay, but no wait may end past the budget.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 10.0
    total_budget: float = 20.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise NhConfigurationError("RetryPolicy.max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.total_budget < 0:
            raise NhConfigurationError("RetryPolicy delays and budget must not be negative")
        if not 0 <= self.jitter <= 1:
            raise NhConfigurationError("RetryPolicy.jitter must be between 0 and 1")

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that tries once."""
        return cls(max_attempts=1)

    def backoff(self, retry_number: int, unit_random: float) -> float:
        """The delay before retry ``retry_number`` (1-based) when NH gave no Retry-After; ``unit_random`` in [0, 1)."""
        exponential = min(self.max_delay, self.base_delay * 2.0 ** (retry_number - 1))
        spread = 1 + self.jitter * (2 * unit_random - 1)
        return max(0.0, min(self.max_delay, exponential * spread))

    def delay(self, retry_number: int, retry_after: float | None, unit_random: float) -> float:
        """Retry-After when NH sent one, else the jittered backoff."""
        return retry_after if retry_after is not None else self.backoff(retry_number, unit_random)


async def call_with_retry(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    operation: str,
    sleep: Sleep = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    unit_random: Callable[[], float] = _system_random.random,
) -> T:
    """Await ``call()``, retrying NhRetryableError within ``policy``; re-raises the last error when out of tries.

    Any other exception propagates at once.
    """
    started = monotonic()
    attempt = 1
    while True:
        try:
            return await call()
        except NhRetryableError as exc:
            if attempt >= policy.max_attempts:
                logger.warning("NH %s gave up after %s attempts: %s", operation, attempt, type(exc).__name__)
                raise
            wait = policy.delay(attempt, exc.retry_after, unit_random())
            elapsed = monotonic() - started
            if elapsed + wait > policy.total_budget:
                logger.warning(
                    "NH %s gave up after %s attempts: waiting %.2fs would pass the %.2fs budget (%s)",
                    operation,
                    attempt,
                    wait,
                    policy.total_budget,
                    type(exc).__name__,
                )
                raise
            logger.info(
                "NH %s attempt %s failed (%s, HTTP %s); retrying in %.2fs",
                operation,
                attempt,
                type(exc).__name__,
                exc.status_code,
                wait,
            )
            await sleep(wait)
            attempt += 1
