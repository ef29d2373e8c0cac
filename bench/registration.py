"""Benchmark 3: PUT /api/installations/{id} through the dev host: requests per second and latency percentiles.

Rows: the app's first registrations (a new installation id and user per request), the app's refresh of an unchanged
device (the same body PUT again, what every app launch does), and the floor (``bench.registration_floor``: one NH PUT
and one Tables write, same dev host), each at c=1/16/64; then first registrations with the NH emulator already
holding 100,000 installations against an empty one (``grown``), with the emulator's restart time on that state.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.procs import Child, CpuMeter, child, free_port, http_ready, python_module
from bench.target import HUB, Target

CONCURRENCY = (1, 16, 64)
REFRESH_POOL = 4  # devices per worker in the refresh rows, registered once then PUT again unchanged


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (milliseconds in, milliseconds out)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def devhost_env(target: Target, tables: str) -> dict[str, str]:
    """The dev host's app settings: the benchmark's NH emulator (https, its CA trusted) and Azurite."""
    return {
        "AUTH_MODE": "dev",
        "PUSH_NH_CONNECTION_STRING": target.connection_string,
        "PUSH_NH_HUB_NAME": HUB,
        "PUSH_TABLES_CONNECTION_STRING": tables,
        "ServiceBusConnection": "local",
        "LOB_SIMULATOR_ENABLED": "false",
        "LOB_SIMULATOR_SCHEDULE": "0 0 0 1 1 *",
        "SSL_CERT_FILE": str(target.ca_file),
        "PYTHONUNBUFFERED": "1",
    }


def dev_host(workdir: Path, target: Target, tables: str, app: str = "function_app") -> tuple[Any, str]:
    """A context manager starting ``python -m local.devhost`` (serving ``app``) on a free port, and its API URL."""
    port = free_port()
    state_dir = workdir / f"devhost-state-{app}"
    command = python_module("local.devhost", "--app", app, "--port", str(port), "--state-dir", str(state_dir))
    ready = http_ready(f"http://127.0.0.1:{port}/admin/host/status")
    env = devhost_env(target, tables)
    return child("dev host", command, ready, workdir / f"devhost-{app}.log", env), f"http://127.0.0.1:{port}/api"


Request = tuple[str, str, dict[str, Any]]  # installation id, user, body


def _new_device(number: int, sequence: int) -> Request:
    body = {
        "platform": "fcmv1",
        "pushChannel": f"fcm-{uuid.uuid4().hex}{uuid.uuid4().hex}",
        "language": "en",
        "interests": ["hr", "orders"],
    }
    return str(uuid.uuid4()), f"bench-{number}-{sequence}", body


async def _load(
    api: str, concurrency: int, warmup: float, duration: float, meter: CpuMeter, *, refresh: bool = False
) -> tuple[list[float], int, float]:
    """``concurrency`` workers PUT installations for ``warmup`` + ``duration`` s; latencies of the measured part.
    ``meter`` is started and stopped at the measured part's bounds, so the CPU figures leave the warm-up out.

    ``refresh``: each worker first registers a pool of devices (unmeasured), then PUTs them again unchanged.
    """
    latencies: list[float] = []
    errors = 0
    # One client with one connection per worker: a single httpx pool of 64 connections spends more CPU finding a
    # free connection than the request costs (the load client, not the app, was the limit of the faster rows).
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(limits=limits, timeout=60)) for _ in range(concurrency)
        ]

        async def put(client: httpx.AsyncClient, request: Request) -> int:
            installation_id, user, body = request
            url = f"{api}/installations/{installation_id}"
            try:
                return (await client.put(url, json=body, headers={"X-Dev-User": user})).status_code
            except httpx.TransportError:  # a connection the host dropped under load: an error, not the end of the row
                return 0

        pools = [[_new_device(n, s) for s in range(REFRESH_POOL)] for n in range(concurrency)] if refresh else []

        async def register_pool(number: int) -> int:
            return sum([await put(clients[number], request) != 200 for request in pools[number]])

        errors += sum(await asyncio.gather(*(register_pool(n) for n in range(len(pools)))))
        measure_from = time.perf_counter() + warmup
        measure_to = measure_from + duration

        async def worker(number: int) -> None:
            nonlocal errors
            sequence = 0
            while time.perf_counter() < measure_to:
                sequence += 1
                request = pools[number][sequence % REFRESH_POOL] if refresh else _new_device(number, sequence)
                started = time.perf_counter()
                status = await put(clients[number], request)
                finished = time.perf_counter()
                if status != 200:
                    errors += 1
                elif measure_from <= finished <= measure_to:  # completed in the window (slow hosts: started before)
                    latencies.append((finished - started) * 1000)

        async def metered_window() -> None:
            await asyncio.sleep(measure_from - time.perf_counter())
            meter.start()
            await asyncio.sleep(measure_to - time.perf_counter())
            meter.stop()

        await asyncio.gather(metered_window(), *(worker(n) for n in range(concurrency)))
    return latencies, errors, duration


def run(target: Target, tables: str, workdir: Path, *, quick: bool, children: dict[str, Child]) -> dict[str, Any]:
    """Registration load at each concurrency through one dev host process: first, refresh, floor."""
    warmup, duration = (0.5, 2.0) if quick else (2.0, 8.0)
    result: dict[str, Any] = {"warmup_seconds": warmup, "seconds": duration}
    for key, app, refresh in (
        ("rows", "function_app", False),
        ("refresh_rows", "function_app", True),
        ("floor_rows", "bench.registration_floor", False),
    ):
        label = {"rows": "ours, first", "refresh_rows": "ours, refresh", "floor_rows": "floor"}[key]
        result[key] = load_rows(
            target, tables, workdir, app, children, (warmup, duration), refresh=refresh, label=label
        )
    return result


def load_rows(
    target: Target,
    tables: str,
    workdir: Path,
    app: str,
    children: dict[str, Child],
    timing: tuple[float, float],
    *,
    refresh: bool,
    label: str,
    levels: tuple[int, ...] = CONCURRENCY,
) -> list[dict[str, Any]]:
    """One dev host serving ``app``; a row per concurrency level."""
    warmup, duration = timing
    rows: list[dict[str, Any]] = []
    manager, api = dev_host(workdir, target, tables, app)
    with manager as host:
        meter_children = {**children, "dev host": host}
        for concurrency in levels:
            meter = CpuMeter(meter_children)
            latencies, errors, seconds = asyncio.run(_load(api, concurrency, warmup, duration, meter, refresh=refresh))
            rows.append(
                {
                    "concurrency": concurrency,
                    "requests": len(latencies),
                    "errors": errors,
                    "seconds": seconds,
                    "per_second": round(len(latencies) / seconds, 1),
                    "p50_ms": round(percentile(latencies, 0.50), 1) if latencies else None,
                    "p95_ms": round(percentile(latencies, 0.95), 1) if latencies else None,
                    "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
                    "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
                    "cpu_seconds": meter.used,
                }
            )
            row = rows[-1]
            print(
                f"  registration {label:<14} c={concurrency:<3} {row['per_second']:>7.1f}/s"
                f" p50={row['p50_ms']} p99={row['p99_ms']} errors={errors}",
                flush=True,
            )
    return rows
