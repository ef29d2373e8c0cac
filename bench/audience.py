"""Benchmark 4: our function's cost per event against audience size (10, 1,000, 100,000 installations).

Installations are written straight into the emulator's state file (the shape the registration use case builds:
server tags including ``topic:hr``, "alert" and "silent" templates per platform and language), so every HR event
reaches all of them. Two passes per size:
- timing: events through the function's use case (``shared.triggers.pipeline.deliver``: claim on Azurite, one template
  send, record) against the emulator in sink mode with the audience loaded; wall time, CPU time and tracemalloc
  peak per event on the function's side, NH requests per event counted at the emulator;
- fan-out: a few events against the full emulator (no sink) with the same audience; the emulator counts the
  requests it got and the devices each send reached, and how long its (synchronous) fan-out took. Real NH
  answers 201 once the send is queued and fans out on its own side, so that time is NH's, not the function's.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx

from bench.pipeline import SUBSCRIPTION, TOPIC, hr_events, settings_for
from bench.procs import CpuMeter, own_cpu_seconds
from bench.target import HUB, nh_target
from shared.adapters.nh_gateway import NotificationHubsGateway
from shared.composition import root as bootstrap
from shared.composition.wiring import build_services
from shared.domain.identity import Identity
from shared.domain.publishing import to_outgoing_message
from shared.domain.records import Platform
from shared.notification_hubs.client import NotificationHubsClient
from shared.triggers.pipeline import deliver
from shared.usecases.delivery import IncomingMessage
from shared.usecases.registration import desired_installation

SIZES = (10, 1_000, 100_000)
_PLATFORMS = (Platform.APNS, Platform.FCMV1, Platform.WNS)
_LANGUAGES = ("en", "de", "es")


def write_state_file(path: Path, size: int) -> None:
    """An emulator state file with ``size`` installations, as the registration use case would have made them."""
    installations = []
    for number in range(size):
        platform = _PLATFORMS[number % 3]
        identity = Identity(user_id=f"user{number}")
        installation = desired_installation(
            identity, f"inst-{number}", platform, f"channel-{number:08d}-{'x' * 40}", _LANGUAGES[number % 3], ["hr"]
        )
        installations.append(installation.to_wire())
    path.write_text(json.dumps({"installations": installations, "scheduled": []}), encoding="utf-8")


def _messages(count: int, seed: int) -> list[IncomingMessage]:
    out = []
    for event in hr_events(count, seed):
        message = to_outgoing_message(event)
        out.append(
            IncomingMessage(
                topic=TOPIC,
                subscription=SUBSCRIPTION,
                message_id=message.message_id,
                body=bytes(message.body),
                content_type=message.content_type,
                subject=message.subject,
                application_properties={k: str(v) for k, v in message.application_properties.items()},
            )
        )
    return out


async def _timing(
    target: Any, tables: str, size: int, events: int, seed: int, children: dict[str, Any]
) -> dict[str, Any]:
    services = build_services(settings_for(target, tables), _no_bus())
    messages = _messages(events + 1, seed)
    before = target.counters()
    try:
        with bootstrap.override(services):
            await deliver(messages[0])  # first invocation opens the pools and creates tables: not counted
            before = target.counters()
            walls: list[float] = []
            with CpuMeter(children) as meter:
                cpu_start = own_cpu_seconds()
                for message in messages[1:]:
                    started = time.perf_counter()
                    await deliver(message)
                    walls.append(time.perf_counter() - started)
                cpu = own_cpu_seconds() - cpu_start
            memory_messages = _messages(min(events, 50), seed + 1)
            tracemalloc.start()
            peaks = []
            for message in memory_messages:
                tracemalloc.reset_peak()
                baseline = tracemalloc.get_traced_memory()[0]
                await deliver(message)
                peaks.append(tracemalloc.get_traced_memory()[1] - baseline)
            tracemalloc.stop()
    finally:
        await services.aclose()
    after = target.counters()
    requests = after["requests"] - before["requests"] - len(memory_messages)
    walls.sort()
    return {
        "installations": size,
        "events": events,
        "nh_requests_per_event": round(requests / events, 3),
        "wall_ms_per_event": round(1000 * sum(walls) / events, 2),
        "wall_ms_p50": round(1000 * walls[len(walls) // 2], 2),
        "cpu_ms_per_event": round(1000 * cpu / events, 2),
        "tracemalloc_peak_kib": round(max(peaks) / 1024, 1),
        "tracemalloc_peak_kib_mean": round(sum(peaks) / len(peaks) / 1024, 1),
        "cpu_seconds": meter.used,
    }


async def _fanout(target: Any, tables: str, events: int, seed: int) -> dict[str, Any]:
    services = build_services(settings_for(target, tables), _no_bus())
    # The emulator fans out before it answers (about 0.1 ms per device here); real NH answers once the send is
    # queued. The app's 10 s timeout would give up on 100,000 devices, so this pass's client waits longer.
    patient = NotificationHubsClient(target.connection_string, HUB, timeout=httpx.Timeout(300.0, connect=5.0))
    services.push = NotificationHubsGateway(patient)
    services.closers.append(patient.aclose)
    messages = _messages(events, seed)
    before = target.counters(forget=True)
    reached = []
    walls = []
    try:
        with bootstrap.override(services):
            for message in messages:
                started = time.perf_counter()
                await deliver(message)
                walls.append(time.perf_counter() - started)
                counters = target.counters(forget=True)
                reached.append(counters["deliveries"])
    finally:
        await services.aclose()
    after = target.counters()
    return {
        "fanout_events": events,
        "fanout_nh_requests_per_event": round((after["requests"] - before["requests"]) / events, 3),
        "devices_reached_per_event": round(sum(reached) / events, 1),
        "emulator_send_ms": round(1000 * (after["send_seconds"] - before["send_seconds"]) / events, 1),
        "function_wall_ms_with_sync_fanout": round(1000 * sum(walls) / events, 1),
    }


def _no_bus() -> Any:
    """A publisher / dead-letter pair the pipeline never calls (the delivery path does not publish)."""

    class Unused:
        async def publish(self, topic: str, messages: Any) -> None:
            raise RuntimeError("not used by the delivery path")

        async def list_dead_letters(self) -> list[Any]:
            return []

        async def replay(self, dead_letter_id: str) -> Any:
            raise RuntimeError("not used by the delivery path")

    unused = Unused()
    return (unused, unused)


def run(tables: str, workdir: Path, *, quick: bool, children: dict[str, Any]) -> dict[str, Any]:
    """Both passes for every audience size."""
    events, fanout_events = (30, 1) if quick else (300, 3)
    rows = []
    # The quick form stops at 10,000: writing and loading 100,000 installations alone takes longer than a minute.
    for size in (10, 1_000, 10_000) if quick else SIZES:
        state = workdir / f"audience-{size}.json"
        write_state_file(state, size)
        with nh_target(workdir, sink=True, name=f"sink-{size}", state_file=state) as target:
            os.environ["SSL_CERT_FILE"] = str(target.ca_file)
            timing = asyncio.run(
                _timing(target, tables, size, events, 100 + size, {**children, "NH target": target.process})
            )
        with nh_target(workdir, sink=False, name=f"emulator-{size}", state_file=state) as target:
            os.environ["SSL_CERT_FILE"] = str(target.ca_file)
            fanout = asyncio.run(_fanout(target, tables, fanout_events, 200 + size))
        rows.append({**timing, **fanout})
        row = rows[-1]
        print(
            f"  audience {size:>7}: {row['nh_requests_per_event']} NH req/event, {row['wall_ms_per_event']} ms/event,"
            f" {row['cpu_ms_per_event']} ms CPU/event, peak {row['tracemalloc_peak_kib']} KiB,"
            f" reached {row['devices_reached_per_event']} devices (emulator fan-out {row['emulator_send_ms']} ms)"
        )
    return {"rows": rows, "events": events, "fanout_events": fanout_events}
