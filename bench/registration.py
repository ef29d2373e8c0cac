"""Benchmark 3: PUT /api/installations/{id} through the dev host: requests per second and latency percentiles."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.procs import Child, CpuMeter, child, free_port, http_ready, python_module
from bench.target import HUB, Target

CONCURRENCY = (1, 16, 64)


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


def dev_host(workdir: Path, target: Target, tables: str) -> tuple[Any, str]:
    """A context manager starting ``python -m local.devhost`` on a free port, and its API base URL."""
    port = free_port()
    command = python_module("local.devhost", "--port", str(port), "--state-dir", str(workdir / "devhost-state"))
    ready = http_ready(f"http://127.0.0.1:{port}/admin/host/status")
    env = devhost_env(target, tables)
    return child("dev host", command, ready, workdir / "devhost.log", env), f"http://127.0.0.1:{port}/api"


async def _load(api: str, concurrency: int, warmup: float, duration: float) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        measure_from = time.perf_counter() + warmup
        measure_to = measure_from + duration

        async def worker(number: int) -> None:
            nonlocal errors
            sequence = 0
            while time.perf_counter() < measure_to:
                sequence += 1
                user = f"bench-{number}-{sequence}"
                body = {
                    "platform": "fcmv1",
                    "pushChannel": f"fcm-{uuid.uuid4().hex}{uuid.uuid4().hex}",
                    "language": "en",
                    "interests": ["hr", "orders"],
                }
                started = time.perf_counter()
                response = await client.put(
                    f"{api}/installations/{uuid.uuid4()}", json=body, headers={"X-Dev-User": user}
                )
                finished = time.perf_counter()
                if response.status_code != 200:
                    errors += 1
                elif started >= measure_from:
                    latencies.append((finished - started) * 1000)

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return latencies, errors, duration


def run(target: Target, tables: str, workdir: Path, *, quick: bool, children: dict[str, Child]) -> dict[str, Any]:
    """Registration load at each concurrency through one dev host process."""
    warmup, duration = (0.5, 2.0) if quick else (2.0, 8.0)
    rows: list[dict[str, Any]] = []
    manager, api = dev_host(workdir, target, tables)
    with manager as host:
        meter_children = {**children, "dev host": host}
        for concurrency in CONCURRENCY:
            with CpuMeter(meter_children) as meter:
                latencies, errors, seconds = asyncio.run(_load(api, concurrency, warmup, duration))
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
                f"  registration c={concurrency:<3} {row['per_second']:>7.1f}/s p50={row['p50_ms']} p99={row['p99_ms']}"
            )
    return {"rows": rows, "warmup_seconds": warmup, "seconds": duration}
