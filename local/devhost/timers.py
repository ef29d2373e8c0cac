"""Timer triggers on their NCRONTAB schedules, with run-on-startup, past-due detection and a manual run."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.functions.timer import TimerRequest
from croniter import croniter

from local.devhost.functions import FunctionSpec
from local.devhost.invoke import invoke
from local.devhost.worker_input import decode, timer_input
from local.settings import resolve_setting_refs
from shared.domain.errors import ConfigError

__all__ = ["NcrontabSchedule", "TimerRunner"]

logger = logging.getLogger("local.devhost")
_LATE = 1.0  # seconds after the scheduled time from which a run counts as past due


@dataclass(frozen=True)
class NcrontabSchedule:
    """A 6-field ({second} {minute} {hour} {day} {month} {day-of-week}) or 5-field NCRONTAB expression, in UTC."""

    expression: str

    @classmethod
    def parse(cls, expression: str) -> NcrontabSchedule:
        """Raises ConfigError for TimeSpan schedules (App Service only) and invalid expressions."""
        fields = expression.split()
        if len(fields) not in (5, 6):
            raise ConfigError(
                f"schedule {expression!r}: NCRONTAB needs 6 fields (TimeSpan schedules are not supported)"
            )
        schedule = cls(" ".join(fields))
        try:
            schedule.next_after(datetime.now(UTC))
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"schedule {expression!r} is not a valid NCRONTAB expression: {exc}") from exc
        return schedule

    def next_after(self, moment: datetime) -> datetime:
        six = len(self.expression.split()) == 6
        result: datetime = croniter(self.expression, moment, second_at_beginning=six).get_next(datetime)
        return result

    def interval(self) -> timedelta:
        first = self.next_after(datetime(2030, 1, 1, tzinfo=UTC))
        return self.next_after(first) - first


class TimerRunner:
    """Runs every timer function of the app; one invocation at a time per timer, as the host's singleton lock."""

    def __init__(
        self,
        specs: list[FunctionSpec],
        environ: Mapping[str, str],
        state_file: Path,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._specs = {spec.name: spec for spec in specs}
        self._schedules = {
            spec.name: NcrontabSchedule.parse(resolve_setting_refs(str(spec.binding["schedule"]), environ))
            for spec in specs
        }
        self._state_file = state_file
        self._now = now
        self._running: dict[str, asyncio.Lock] = {name: asyncio.Lock() for name in self._specs}

    def describe(self) -> dict[str, str]:
        return {name: schedule.expression for name, schedule in self._schedules.items()}

    async def run(self) -> None:
        """Run until cancelled."""
        await asyncio.gather(*(self._loop(name) for name in self._specs))

    async def run_now(self, name: str) -> bool:
        """Start one invocation now (admin endpoint); False for a function that is not a timer."""
        if name not in self._specs:
            return False
        asyncio.get_running_loop().create_task(self._fire(name, past_due=False, scheduled=None))
        return True

    def _uses_monitor(self, name: str) -> bool:
        configured = self._specs[name].binding.get("useMonitor")
        if configured is not None:
            return bool(configured)
        return self._schedules[name].interval() >= timedelta(minutes=1)

    async def _loop(self, name: str) -> None:
        spec, schedule = self._specs[name], self._schedules[name]
        state = self._load_state().get(name, {})
        recorded_next = _parse_time(state.get("Next"))
        if self._uses_monitor(name) and recorded_next is not None and recorded_next < self._now():
            logger.info("timer %s missed its run at %s; running now (past due)", name, recorded_next.isoformat())
            await self._fire(name, past_due=True, scheduled=recorded_next)
        elif spec.binding.get("runOnStartup"):
            await self._fire(name, past_due=False, scheduled=None)
        due = schedule.next_after(self._now())
        self._save(name, last=_parse_time(state.get("Last")), next_due=due)
        while True:
            delay = (due - self._now()).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
            late = (self._now() - due).total_seconds() > _LATE
            await self._fire(name, past_due=late, scheduled=due)
            following = schedule.next_after(due)
            # Runs that fell due while this one was running collapse into one past-due run, as on the host.
            due = following if following > self._now() else schedule.next_after(self._now() - timedelta(seconds=1))

    async def _fire(self, name: str, *, past_due: bool, scheduled: datetime | None) -> None:
        spec = self._specs[name]
        async with self._running[name]:
            state = self._load_state().get(name, {})
            status = {"Last": state.get("Last"), "Next": state.get("Next"), "LastUpdated": state.get("LastUpdated")}
            # The host sends ScheduleStatus only for monitored schedules; the worker's converter builds the request.
            data = timer_input(past_due=past_due, schedule_status=status if self._uses_monitor(name) else None)
            request: TimerRequest = decode("timerTrigger", data)
            started = time.monotonic()
            try:
                await invoke(spec, request, trigger="timerTrigger", detail="past due" if past_due else "")
            except Exception:
                logger.exception("timer function %s failed after %.1f s", name, time.monotonic() - started)
            schedule = self._schedules[name]
            self._save(name, last=scheduled or self._now(), next_due=schedule.next_after(self._now()))

    def _load_state(self) -> dict[str, dict[str, Any]]:
        try:
            loaded = json.loads(self._state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def _save(self, name: str, *, last: datetime | None, next_due: datetime) -> None:
        state = self._load_state()
        state[name] = {
            "Last": last.isoformat() if last else None,
            "Next": next_due.isoformat(),
            "LastUpdated": self._now().isoformat(),
        }
        self._state_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=2), encoding="utf-8")
        temporary.replace(self._state_file)


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
