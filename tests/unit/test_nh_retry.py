"""RetryPolicy backoff arithmetic and call_with_retry's budget, Retry-After and error-class rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.notification_hubs import (
    NhConfigurationError,
    NhForbiddenError,
    NhInvalidRequestError,
    NhThrottledError,
    NhTransientError,
    RetryPolicy,
)
from shared.notification_hubs.retry import call_with_retry
from tests.fakes import FakeTimer


class Script:
    """An async callable that raises the scripted errors in turn, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def transient(retry_after: float | None = None) -> NhTransientError:
    return NhTransientError("503", status_code=503, retry_after=retry_after)


async def run(script: Script, policy: RetryPolicy, timer: FakeTimer, unit_random: float = 0.5) -> str:
    return await call_with_retry(
        script, policy, operation="test", sleep=timer.sleep, monotonic=timer.monotonic, unit_random=lambda: unit_random
    )


class TestRetryPolicy:
    def test_backoff_doubles_from_the_base_delay_up_to_the_cap(self) -> None:
        policy = RetryPolicy(base_delay=0.5, max_delay=3.0, jitter=0.0)
        assert [policy.backoff(n, 0.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]

    @settings(deadline=None, max_examples=50)
    @given(retry_number=st.integers(1, 30), unit=st.floats(0, 1, exclude_max=True), jitter=st.floats(0, 1))
    def test_jittered_backoff_stays_within_its_spread_and_the_cap(
        self, retry_number: int, unit: float, jitter: float
    ) -> None:
        policy = RetryPolicy(base_delay=0.5, max_delay=10.0, jitter=jitter)
        plain = min(10.0, 0.5 * 2 ** (retry_number - 1))
        delay = policy.backoff(retry_number, unit)
        assert plain * (1 - jitter) - 1e-9 <= delay <= min(10.0, plain * (1 + jitter)) + 1e-9

    def test_retry_after_replaces_the_backoff_even_past_max_delay(self) -> None:
        assert RetryPolicy(max_delay=1.0).delay(1, 15.0, 0.5) == 15.0

    @pytest.mark.parametrize(
        "fields",
        [{"max_attempts": 0}, {"base_delay": -1.0}, {"total_budget": -1.0}, {"jitter": 1.5}],
    )
    def test_a_policy_that_cannot_work_is_refused(self, fields: dict[str, float]) -> None:
        with pytest.raises(NhConfigurationError):
            RetryPolicy(**fields)  # type: ignore[arg-type]


class TestCallWithRetry:
    async def test_a_result_comes_back_after_transient_failures(self) -> None:
        timer, script = FakeTimer(), Script(transient(), transient())
        assert await run(script, RetryPolicy(jitter=0.0), timer) == "ok"
        assert timer.delays == [0.5, 1.0]

    async def test_the_last_error_is_raised_when_attempts_run_out(self) -> None:
        timer = FakeTimer()
        errors = [transient() for _ in range(3)]
        with pytest.raises(NhTransientError) as caught:
            await run(Script(*errors), RetryPolicy(max_attempts=3, jitter=0.0), timer)
        assert caught.value is errors[-1]
        assert len(timer.delays) == 2

    async def test_retry_after_is_honoured_when_the_service_sends_it(self) -> None:
        timer = FakeTimer()
        await run(Script(NhThrottledError("429", retry_after=4.0)), RetryPolicy(), timer)
        assert timer.delays == [4.0]

    async def test_the_budget_counts_time_spent_in_calls_too(self) -> None:
        timer = FakeTimer()

        async def slow_failure() -> str:
            timer.now += 9.0  # a call that times out after 9 s
            raise transient()

        with pytest.raises(NhTransientError):
            await call_with_retry(
                slow_failure,
                RetryPolicy(max_attempts=10, base_delay=1.0, total_budget=20.0, jitter=0.0),
                operation="test",
                sleep=timer.sleep,
                monotonic=timer.monotonic,
            )
        assert timer.delays == [1.0]  # 9 + 1 + 9 = 19 s used; waiting 2 s more would pass 20 s
        assert timer.now <= 20.0

    @pytest.mark.parametrize("error", [NhForbiddenError("403"), NhInvalidRequestError("400"), ValueError("bug")])
    async def test_errors_that_cannot_pass_are_raised_at_once(self, error: Exception) -> None:
        timer, script = FakeTimer(), Script(error)
        with pytest.raises(type(error)):
            await run(script, RetryPolicy(), timer)
        assert script.calls == 1
        assert timer.delays == []

    async def test_never_tries_exactly_once(self) -> None:
        timer, script = FakeTimer(), Script(transient())
        with pytest.raises(NhTransientError):
            await run(script, RetryPolicy.never(), timer)
        assert script.calls == 1
