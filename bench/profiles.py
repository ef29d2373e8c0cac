"""Profiles (pyinstrument) of the deployed push function and of a registration burst, with costs by component.

- push: ``count`` HR events through the app's single-message function at maxConcurrentCalls 64 (``pipeline.run_ours``
  with a profile), against the NH sink and Azurite;
- registration: a burst of first registrations called in this process through the app's own HTTP function
  (``function_app.register_device`` with an ``azure.functions.HttpRequest``, as the dev host calls it, without the
  dev host's HTTP server), 64 at a time, against the NH emulator in full mode and Azurite.

Each writes the pyinstrument text tree to bench/results/profile-*.txt and returns the self time by component.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import azure.functions as func

import function_app
from bench import pipeline
from bench.components import profile_components
from bench.procs import ROOT, Child, CpuMeter
from bench.target import Target
from shared.composition import root as bootstrap
from shared.composition.wiring import build_services

RESULTS = ROOT / "bench" / "results"


def _request(number: int) -> func.HttpRequest:
    body = {"platform": "fcmv1", "pushChannel": f"fcm-{uuid.uuid4().hex * 2}", "language": "en", "interests": ["hr"]}
    installation_id = str(uuid.uuid4())
    return func.HttpRequest(
        method="PUT",
        url=f"http://127.0.0.1/api/installations/{installation_id}",
        headers={"x-dev-user": f"burst-{number}", "content-type": "application/json"},
        params={},
        route_params={"installationId": installation_id},
        body=json.dumps(body).encode(),
    )


async def _burst(target: Target, tables: str, count: int, concurrency: int, out: Path) -> dict[str, Any]:
    from pyinstrument import Profiler

    services = build_services(pipeline.settings_for(target, tables), (None, None))  # type: ignore[arg-type]
    statuses: list[int] = []
    requests = [_request(n) for n in range(count)]
    profiler = Profiler(interval=0.001, async_mode="disabled")
    try:
        with bootstrap.override(services):
            for warm in requests[:concurrency]:  # connections and tables made before profiling
                statuses.append((await function_app.register_device(warm)).status_code)
            semaphore = asyncio.Semaphore(concurrency)

            async def one(request: func.HttpRequest) -> None:
                async with semaphore:
                    statuses.append((await function_app.register_device(request)).status_code)

            profiler.start()
            started = time.perf_counter()
            await asyncio.gather(*(one(r) for r in requests[concurrency:]))
            wall = time.perf_counter() - started
            profiler.stop()
    finally:
        await services.aclose()
    out.write_text(profiler.output_text(unicode=False, color=False, show_all=False))  # noqa: ASYNC240
    measured = count - concurrency
    return {
        "registrations": measured,
        "concurrency": concurrency,
        "seconds": round(wall, 3),
        "per_second": round(measured / wall, 1),
        "non_200": sum(status != 200 for status in statuses),
        "profile_by_component": profile_components(profiler),
    }


def run(
    sink: Target, emulator: Target, tables: str, workdir: Path, *, quick: bool, children: dict[str, Child]
) -> dict[str, Any]:
    """Both profiles."""
    events = 300 if quick else 2_000
    suffix = "-quick" if quick else ""
    push = asyncio.run(
        pipeline.run_ours(
            sink,
            tables,
            workdir,
            count=events,
            concurrency=pipeline.PROFILED_CONCURRENCY,
            seed=5100,
            meter_children=children,
            profile_to=RESULTS / f"profile-push{suffix}.txt",
        )
    )
    print(f"  profile: push function, {events} HR events at c=64: {push['per_second']} events/s", flush=True)
    trusted = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(emulator.ca_file)  # the NH client of this process must trust the emulator
    try:
        with CpuMeter({**children, "NH emulator": emulator.process}) as meter:
            out = RESULTS / f"profile-registration{suffix}.txt"
            burst = asyncio.run(_burst(emulator, tables, 200 if quick else 1_000, 64, out))
    finally:
        if trusted is not None:
            os.environ["SSL_CERT_FILE"] = trusted
    burst["cpu_seconds"] = meter.used
    print(f"  profile: registration burst: {burst['per_second']} registrations/s", flush=True)
    return {"push": push, "registration": burst}
