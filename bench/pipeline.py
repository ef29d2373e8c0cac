"""Benchmark 2: events per second through the push subscription's function, against the reference pattern.

Ours, two shapes, both run by the dev host's own Service Bus trigger (``LocalBusTrigger``) on the services the app
builds for itself (``wiring.build_services``: one NH client, one TableServiceClient on Azurite):
- the app's single-message function ``function_app.dispatch_hr_event`` at maxConcurrentCalls = 1, 16, 64: per event
  one claim (insert-if-absent), one send, one record (etag-conditional replace), each a single request;
- a batch function defined here (cardinality "many") over ``bench.batch_dispatch.deliver_many`` at several
  maxMessageBatchSize values: a batch is claimed with one Tables transaction per partition, sent with 32 concurrent
  template sends, and recorded through ``GroupingDeliveryLog`` (records that arrive together share transactions).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import azure.functions as func

import function_app
from bench import batch_dispatch
from bench.components import profile_components
from bench.procs import ROOT, CpuMeter
from bench.target import HUB, Target
from local.bus import LocalBus, load_topology
from local.devhost.functions import FunctionSpec, index_app, load_app
from local.devhost.servicebus import LocalBusTrigger
from shared.adapters.delivery_log_grouping import GroupingDeliveryLog
from shared.composition import root as bootstrap
from shared.composition.settings import Settings
from shared.composition.wiring import build_services
from shared.domain.publishing import to_outgoing_message
from shared.domain.simulated_events import simulate_event

TOPIC, SUBSCRIPTION = "hr", "push"
HR_TYPES = ("hr.employee.joined", "hr.employee.left", "hr.employee.team_changed")
CONCURRENCY = (1, 16, 64)
BATCH_SIZES = (32, 100, 500)
PROFILED_BATCH = 100  # the batch size whose stages are timed
PROFILED_CONCURRENCY = 64  # the app's single-message function is profiled at this maxConcurrentCalls
# Added to every NH answer in the latency variant: NH is a remote service, the local sink answers in a fraction of a ms.
NH_LATENCY = 0.010
T = TypeVar("T")


@dataclass(frozen=True)
class OneUser:
    """A one-user workload: its topic, its function, its events and what to store before (preferences)."""

    label: str
    topic: str
    function: str
    make: Callable[[int, int], list[dict[str, Any]]]
    prepare: Callable[[Any], Awaitable[None]]


class _ErrorCount(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


_specs: dict[str, FunctionSpec] = {}


def _batch_app() -> func.FunctionApp:
    """The hr/push trigger as a batch (cardinality "many") function over bench.batch_dispatch.deliver_many: the shape
    measured against the app's single-message triggers (docs/architecture.md says why the app does not use it)."""
    app = func.FunctionApp()

    @app.service_bus_topic_trigger(
        arg_name="batch",
        topic_name=TOPIC,
        subscription_name=SUBSCRIPTION,
        connection="ServiceBusConnection",
        cardinality=func.Cardinality.MANY,
    )
    async def dispatch_hr_events(batch: list[func.ServiceBusMessage]) -> None:
        await batch_dispatch.deliver_many([function_app.incoming_message(msg, TOPIC, SUBSCRIPTION) for msg in batch])

    return app


def function_spec(name: str) -> FunctionSpec:
    """A function as the dev host indexes it (FunctionApp.get_functions may run once per app)."""
    if not _specs:
        _specs.update({spec.name: spec for spec in index_app(load_app("function_app"))})
        _specs.update({spec.name: spec for spec in index_app(_batch_app())})
    return _specs[name]


def settings_for(target: Target, tables: str) -> Settings:
    """The app settings the function reads, pointing at the benchmark's NH target and Azurite."""
    return Settings.from_env(
        {
            "AUTH_MODE": "dev",
            "PUSH_NH_CONNECTION_STRING": target.connection_string,
            "PUSH_NH_HUB_NAME": HUB,
            "PUSH_TABLES_CONNECTION_STRING": tables,
            "ServiceBusConnection": "local",
        }
    )


def hr_events(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` HR CloudEvents (audience topic:hr, so no per-user preference lookup), unique ids."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    return [simulate_event(HR_TYPES[i % len(HR_TYPES)], rng, now=now) for i in range(count)]


def empty_bus(path: Path) -> LocalBus:
    """A fresh local bus with the project's topology."""
    return LocalBus(path, load_topology(ROOT / "infra" / "servicebus-topology.json"))


async def fill_bus(
    path: Path,
    count: int,
    seed: int,
    *,
    topic: str = TOPIC,
    make: Callable[[int, int], list[dict[str, Any]]] = hr_events,
) -> LocalBus:
    """A fresh local bus holding ``count`` events (``make(count, seed)``, HR by default) on ``topic``."""
    bus = empty_bus(path)
    events = make(count, seed)
    for start in range(0, count, 500):
        await bus.publish(topic, [to_outgoing_message(event) for event in events[start : start + 500]])
    return bus


async def drain(bus: LocalBus, poll: float = 0.05, limit: float = 900.0, *, topic: str = TOPIC) -> None:
    """Wait until the topic's push subscription holds no message (all completed, or dead-lettered)."""
    deadline = time.monotonic() + limit
    while await bus.count_active(topic, SUBSCRIPTION) > 0:
        if time.monotonic() > deadline:
            raise TimeoutError("the subscription did not drain")
        await asyncio.sleep(poll)


class _Timed:
    """Wraps an object; awaits of the named coroutine methods add their wall time to ``totals``."""

    def __init__(self, inner: Any, names: tuple[str, ...], totals: Counter[str], prefix: str) -> None:
        self._inner = inner
        self._names = names
        self._totals = totals
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in self._names:
            return attribute
        return _timed(attribute, self._totals, f"{self._prefix}.{name}")


def _timed(call: Callable[..., Awaitable[T]], totals: Counter[str], key: str) -> Callable[..., Awaitable[T]]:
    async def wrapper(*args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - started  # type: ignore[assignment]

    return wrapper


async def run_ours(
    target: Target,
    tables: str,
    workdir: Path,
    *,
    count: int,
    seed: int,
    meter_children: dict[str, Any],
    concurrency: int = 1,
    batch_size: int | None = None,
    stages: Counter[str] | None = None,
    profile_to: Path | None = None,
    one_user: OneUser | None = None,
) -> dict[str, Any]:
    """``count`` events through the single-message function at ``concurrency``, or through the app's batch function
    with ``batch_size``; optional per-stage timing or a pyinstrument profile. ``one_user``: that topic's function
    over its events (after its ``prepare``) instead of the HR broadcast."""
    shape = f"batch{batch_size}" if batch_size else f"c{concurrency}"
    topic = one_user.topic if one_user else TOPIC
    path = workdir / f"bus-ours-{topic}-{shape}-{seed}.sqlite3"
    bus = await fill_bus(path, count, seed, topic=topic, make=one_user.make if one_user else hr_events)
    services = build_services(settings_for(target, tables), (bus, bus))
    if batch_size:
        # The batch shape records each outcome as its send returns; grouping shares those records' transactions.
        services.deliveries = GroupingDeliveryLog(services.deliveries)
    if one_user is not None:
        await one_user.prepare(services)
    if stages is not None:
        services.deliveries = _Timed(
            services.deliveries, ("claim", "finish", "claim_many", "finish_many"), stages, "delivery log"
        )
        services.push = _Timed(services.push, ("send",), stages, "NH")
        bus_calls = ("receive", "complete", "renew_lock", "receive_batch", "complete_many")
        bus = _Timed(bus, bus_calls, stages, "bus")  # type: ignore[assignment]
    errors = _ErrorCount()
    logging.getLogger("local.devhost").addHandler(errors)
    sent_before = target.counters()["sends"]
    profiler = None
    if profile_to is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="disabled")
    try:
        with bootstrap.override(services):
            name = one_user.function if one_user else "dispatch_hr_events" if batch_size else "dispatch_hr_event"
            trigger = LocalBusTrigger(
                function_spec(name),
                bus,
                topic,
                SUBSCRIPTION,
                max_concurrent_calls=concurrency,
                max_lock_renewal=300,
                max_batch_size=batch_size or 1,
            )
            if profiler is not None:
                profiler.start()
            with CpuMeter(meter_children) as meter:
                task = asyncio.create_task(trigger.run())
                await drain(bus, topic=topic)
            await trigger.drain(10)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if profiler is not None:
                profiler.stop()
    finally:
        logging.getLogger("local.devhost").removeHandler(errors)
        await services.aclose()
        (bus._inner if isinstance(bus, _Timed) else bus).close()
    sent = target.counters()["sends"] - sent_before
    result = {
        "variant": f"ours: batch function, maxMessageBatchSize {batch_size}"
        if batch_size
        else f"ours: single-message function{f', one-user {one_user.label}' if one_user else ''}",
        "concurrency": 1 if batch_size else concurrency,
        "batch_size": batch_size,
        "events": count,
        "seconds": round(meter.wall, 3),
        "per_second": round(count / meter.wall, 1),
        "nh_sends": int(sent),
        "failed_invocations": errors.count,
        "cpu_seconds": meter.used,
    }
    if profiler is not None and profile_to is not None:
        profile_to.write_text(profiler.output_text(unicode=False, color=False, show_all=False))  # noqa: ASYNC240
        result["profile_by_component"] = profile_components(profiler)
    return result
