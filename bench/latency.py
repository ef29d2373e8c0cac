"""Benchmark 2b: one-user notifications, the end-to-end path through POST /api/events, event -> push latency.

- one-user row: ``accounts.debit.posted`` events (one recipient each, ``recipient_field`` owner_id) through the app's
  ``dispatch_accounts_event`` at c=1/16/64, as the HR rows are run (in-process dev host trigger, local bus, Azurite,
  NH sink). The 200 recipients have stored preferences: a debit threshold (under every simulated amount, so each
  event is sent) and, for half of them, quiet hours covering now (their alert goes out silent). So every event
  reads preferences, applies the threshold and quiet hours, and makes one send.
- end to end: events POSTed to ``/api/events`` (lob.publisher role) of a dev host process running the whole function
  app with its local bus, 16 concurrent connections; the time from the first POST until the NH sink has accepted every
  send. Three rows: one-user budget approvals (``finance.budget_approval.requested`` to the approver), the kind of
  event the issue's "about 100 events/s" was measured with, and the debits of the one-user row (secure content,
  threshold, quiet hours), both push only; then approvals through a dev host with SignalR Service configured (the
  local stand-in, nobody connected), as the app is deployed: a presence check before each push.
- latency: HR events published to the bus one by one at half the maximum throughput of the deployed function
  (c=64; measured here, or taken from the pipeline section of the same run), while the function runs; for each
  event the time from its publish call to the NH sink's 201 for its send, p50/p95/p99.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench import pipeline
from bench.procs import Child, CpuMeter, child, free_port, http_ready, python_module
from bench.registration import devhost_env, percentile
from bench.target import Target
from local.devhost.servicebus import LocalBusTrigger
from local.signalr.config import connection_string as signalr_connection_string
from shared.composition import root as bootstrap
from shared.composition.wiring import build_services
from shared.domain.publishing import to_outgoing_message
from shared.domain.records import InstallationRecord, Platform, Preferences, QuietHours
from shared.domain.simulated_events import simulate_event

USERS = tuple(f"bench-user-{number:03d}" for number in range(200))
DEBIT = "accounts.debit.posted"
APPROVAL = "finance.budget_approval.requested"
# The end-to-end run's publisher (X-Dev-User) may publish these systems' events, and only those.
PUBLISHER_SOURCES = json.dumps({"principals": {"bench-lob": ["/lob/accounts", "/lob/finance"]}})


def one_user_events(event_type: str, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` events of ``event_type``, each for one of ``USERS``."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    return [simulate_event(event_type, rng, now=now, user_ids=USERS) for _ in range(count)]


def debit_events(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` debits, each for one of ``USERS``."""
    return one_user_events(DEBIT, count, seed)


def _preferences(number: int, user: str, now: datetime) -> Preferences:
    quiet = None
    if number % 2 == 0:  # a window around now: the alert goes out silent
        start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
        end = (now + timedelta(hours=2)).time().replace(second=0, microsecond=0)
        quiet = QuietHours(clock_time(start.hour, start.minute), clock_time(end.hour, end.minute), "UTC")
    language = ("en", "de", "es")[number % 3]
    return Preferences(user_id=user, language=language, quiet_hours=quiet, debit_threshold=Decimal("0.50"))


def _phone(number: int, user: str, now: datetime) -> InstallationRecord:
    """The recipient's phone as the installations mirror holds it after a registration (without one, the event is
    skipped as ``no_device`` and nothing is sent)."""
    handle = hashlib.sha256(user.encode()).hexdigest()
    return InstallationRecord(
        user_id=user,
        installation_id=f"{user}-phone",
        platform=Platform.APNS,
        push_channel_hash=hashlib.sha256(handle.encode()).hexdigest(),
        push_channel_hint=handle[-6:],
        language=("en", "de", "es")[number % 3],
        interests=(),
        tags=(f"user:{user}",),
        state="active",
        created_at=now,
        updated_at=now,
    )


async def store_preferences(services: Any) -> None:
    """Preferences (threshold, language, quiet hours for half of them) and a phone in the mirror for every
    recipient."""
    now = datetime.now(UTC)
    await asyncio.gather(*(services.preferences.put(_preferences(n, u, now)) for n, u in enumerate(USERS)))
    await asyncio.gather(*(services.installations.upsert(_phone(n, u, now)) for n, u in enumerate(USERS)))


ONE_USER = pipeline.OneUser(
    label="debits (preferences, threshold, quiet hours)",
    topic="accounts",
    function="dispatch_accounts_event",
    make=debit_events,
    prepare=store_preferences,
)


async def _one_user_rows(target: Target, tables: str, workdir: Path, events: int, children: dict[str, Any]) -> Any:
    rows = []
    for concurrency in pipeline.CONCURRENCY:
        row = await pipeline.run_ours(
            target,
            tables,
            workdir,
            count=events,
            concurrency=concurrency,
            seed=9000 + concurrency,
            meter_children=children,
            one_user=ONE_USER,
        )
        rows.append(row)
        print(f"  one-user c={concurrency:<3} {row['per_second']:>7.1f} events/s ({row['nh_sends']} sends)", flush=True)
    return rows


def _end_to_end(
    target: Target, tables: str, workdir: Path, events: int, children: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """POST /api/events to a dev host running the whole app on its local bus; until the sink accepted every send.

    First push only, as the one-user rows: approvals, then debits, through one dev host (each row meters only its
    own events). Then approvals again through a second dev host configured with SignalR Service (the local stand-in)
    as the app is deployed: nobody has the app open, so each event costs a presence check before its push.
    """
    asyncio.run(_prepare_preferences(target, tables))
    push_only = (("approvals", APPROVAL, 4241), ("debits", DEBIT, 4242))
    rows = _drain_through_devhost(target, tables, workdir, "devhost-e2e", {}, push_only, events, children)
    port = free_port()
    command = python_module("local.signalr", "--port", str(port))
    ready = http_ready(f"http://127.0.0.1:{port}/_signalr/health")
    with child("SignalR stand-in", command, ready, workdir / "signalr-e2e.log") as signalr:
        settings = {"PUSH_SIGNALR_CONNECTION_STRING": signalr_connection_string("127.0.0.1", port)}
        with_signalr = (("approvals_signalr", APPROVAL, 4243),)
        children = children | {"SignalR stand-in": signalr}
        rows |= _drain_through_devhost(
            target, tables, workdir, "devhost-e2e-signalr", settings, with_signalr, events, children
        )
    return rows


def _drain_through_devhost(
    target: Target,
    tables: str,
    workdir: Path,
    name: str,
    settings: dict[str, str],
    kinds: Sequence[tuple[str, str, int]],
    events: int,
    children: dict[str, Any],
) -> dict[str, dict[str, Any]]:
    """One dev host process (app ``settings`` over the benchmark's); for each (key, event type, seed) in ``kinds``,
    ``events`` events POSTed and drained."""
    port = free_port()
    command = python_module("local.devhost", "--port", str(port), "--state-dir", str(workdir / name), "--bus", "local")
    ready = http_ready(f"http://127.0.0.1:{port}/admin/host/status")
    # The settings file names the local SignalR stand-in: without it in ``settings``, no SignalR Service is used.
    env = devhost_env(target, tables) | {
        "LOB_PUBLISHER_SOURCES": PUBLISHER_SOURCES,
        "PUSH_SIGNALR_CONNECTION_STRING": "",
    }
    rows = {}
    with child(name.replace("devhost", "dev host"), command, ready, workdir / f"{name}.log", env | settings) as host:
        for key, event_type, seed in kinds:
            bodies = [json.dumps(event).encode() for event in one_user_events(event_type, events, seed)]
            rows[key] = _post_and_drain(
                target, f"http://127.0.0.1:{port}/api/events", bodies, children | {"dev host": host}
            )
            row = rows[key]
            print(
                f"  end to end via POST /api/events, {key}: {row['per_second']} events/s "
                f"({row['nh_sends']}/{events} sent)",
                flush=True,
            )
    return rows


def _post_and_drain(target: Target, url: str, bodies: Sequence[bytes], children: dict[str, Any]) -> dict[str, Any]:
    before = target.counters()["sends"]
    with CpuMeter(children) as meter:
        started = time.perf_counter()
        posted, errors = asyncio.run(_post_all(url, bodies))
        posted_after = time.perf_counter() - started
        deadline = time.monotonic() + 300
        while target.counters()["sends"] - before < len(bodies) - errors and time.monotonic() < deadline:
            time.sleep(0.05)
    sent = int(target.counters()["sends"] - before)
    return {
        "events": len(bodies),
        "post_errors": errors,
        "nh_sends": sent,
        "post_seconds": round(posted_after, 3),
        "posts_per_second": round(posted / posted_after, 1),
        "seconds": round(meter.wall, 3),
        "per_second": round(sent / meter.wall, 1),
        "cpu_seconds": meter.used,
    }


async def _prepare_preferences(target: Target, tables: str) -> None:
    services = build_services(pipeline.settings_for(target, tables), (None, None))  # type: ignore[arg-type]
    try:
        await store_preferences(services)
    finally:
        await services.aclose()


async def _post_all(url: str, bodies: Sequence[bytes], concurrency: int = 16) -> tuple[int, int]:
    headers = {
        "X-Dev-User": "bench-lob",
        "X-Dev-Roles": "lob.publisher",
        "Content-Type": "application/cloudevents+json",
    }
    queue = list(reversed(bodies))
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:

        async def worker() -> None:
            nonlocal errors
            while queue:
                response = await client.post(url, content=queue.pop())
                errors += response.status_code != 202

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(bodies), errors


class _AcceptedAt:
    """Wraps the push gateway: the time each send was accepted by NH (its 201 read), by the event id it carries."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.accepted: dict[str, float] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def send(self, notification: Any, **kwargs: Any) -> Any:
        result = await self._inner.send(notification, **kwargs)
        event_id = json.loads(notification.body).get("eventId")
        if event_id:
            self.accepted.setdefault(event_id, time.perf_counter())
        return result


async def _latency(target: Target, tables: str, workdir: Path, rate: float, seconds: float) -> dict[str, Any]:
    """HR events published one by one at ``rate``/s for ``seconds`` to the running single-message function (c=64)."""
    bus = pipeline.empty_bus(workdir / f"bus-latency-{rate:.0f}.sqlite3")
    services = build_services(pipeline.settings_for(target, tables), (bus, bus))
    gateway = _AcceptedAt(services.push)
    services.push = gateway
    count = max(1, int(rate * seconds))
    events = pipeline.hr_events(count, 777)
    posted: dict[str, float] = {}
    try:
        with bootstrap.override(services):
            trigger = LocalBusTrigger(
                pipeline.function_spec("dispatch_hr_event"),
                bus,
                pipeline.TOPIC,
                pipeline.SUBSCRIPTION,
                max_concurrent_calls=pipeline.PROFILED_CONCURRENCY,
                max_lock_renewal=300,
                max_batch_size=1,
            )
            task = asyncio.create_task(trigger.run())
            started = time.perf_counter()
            for number, event in enumerate(events):
                delay = started + number / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                posted[event["id"]] = time.perf_counter()
                await bus.publish(pipeline.TOPIC, [to_outgoing_message(event)])
            publish_seconds = time.perf_counter() - started
            await pipeline.drain(bus)
            await trigger.drain(10)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await services.aclose()
        bus.close()
    latencies = [1000 * (gateway.accepted[i] - t) for i, t in posted.items() if i in gateway.accepted]
    return {
        "rate_per_second": round(rate, 1),
        "achieved_publish_rate": round(count / publish_seconds, 1),
        "events": count,
        "accepted": len(latencies),
        "p50_ms": round(percentile(latencies, 0.50), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 0.95), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
    }


def run(
    target: Target,
    tables: str,
    workdir: Path,
    *,
    quick: bool,
    children: dict[str, Child],
    results: dict[str, Any],
) -> dict[str, Any]:
    """The three measurements; the maximum throughput for the latency run comes from this run's pipeline section
    when it has one, else from a short c=64 run here."""
    events = 300 if quick else 2_000
    one_user = asyncio.run(_one_user_rows(target, tables, workdir, events, children))
    end_to_end = _end_to_end(target, tables, workdir, events, children)
    ours = [
        r for r in results.get("pipeline", {}).get("ours", []) if r.get("concurrency") == 64 and not r["batch_size"]
    ]
    if ours:
        maximum, source = ours[0]["per_second"], "pipeline section, HR c=64"
    else:
        row = asyncio.run(
            pipeline.run_ours(target, tables, workdir, count=events, concurrency=64, seed=8000, meter_children=children)
        )
        maximum, source = row["per_second"], f"measured here: {events} HR events at c=64"
        ours = [row]
    latency = asyncio.run(_latency(target, tables, workdir, maximum / 2, 5.0 if quick else 20.0))
    latency |= {"maximum_per_second": maximum, "maximum_from": source}
    print(
        f"  event -> push latency at {latency['rate_per_second']}/s (half of {maximum}/s): "
        f"p50={latency['p50_ms']} ms p99={latency['p99_ms']} ms",
        flush=True,
    )
    return {
        "events": events,
        "one_user": one_user,
        "hr_rows": ours,
        "end_to_end": end_to_end["debits"],
        "end_to_end_approvals": end_to_end["approvals"],
        "end_to_end_approvals_signalr": end_to_end["approvals_signalr"],
        "latency": latency,
    }
