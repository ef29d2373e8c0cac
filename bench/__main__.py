"""``python -m bench [--quick] [--only SECTION,...]``: run, save, write the doc.

With ``--only`` a subset, the figures go to bench/results/benchmarks-<sections>[-quick].json and a .md beside it;
the full run's JSON, docs/benchmarks.md and the plots are left alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import (
    audience,
    latency,
    machine,
    pipeline,
    profiles,
    realtime,
    reference,
    registration,
    registration_grown,
    report,
    sends,
    tools,
)
from bench.procs import ROOT, azurite
from bench.target import nh_target

SECTIONS = ("sends", "pipeline", "registration", "grown", "latency", "audience", "profile", "realtime")
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs"


async def _pipeline(
    target: Any, tables: str, workdir: Path, *, quick: bool, children: dict[str, Any]
) -> dict[str, Any]:
    events = 300 if quick else 10_000
    ours = []
    stages: Counter[str] = Counter()
    for concurrency in pipeline.CONCURRENCY:
        row = await pipeline.run_ours(
            target,
            tables,
            workdir,
            count=events,
            concurrency=concurrency,
            seed=concurrency,
            meter_children=children,
            stages=stages if concurrency == 1 else None,
        )
        if concurrency == 1:
            row["stage_ms_per_event"] = {name: round(1000 * seconds / events, 3) for name, seconds in stages.items()}
        ours.append(row)
        print(
            f"  pipeline ours c={concurrency:<3} {row['per_second']:>7.1f} events/s"
            f" ({row['failed_invocations']} failed)"
        )
    refs = []
    for keep_alive in (False, True):
        row = await reference.run_reference(
            target, workdir, count=events, seed=1000 + keep_alive, keep_alive=keep_alive, meter_children=children
        )
        refs.append(row)
        print(f"  pipeline {row['variant']:<45} {row['per_second']:>7.1f} events/s")
    batch_stages: Counter[str] = Counter()
    for batch_size in pipeline.BATCH_SIZES[1:2] if quick else pipeline.BATCH_SIZES:
        row = await pipeline.run_ours(
            target,
            tables,
            workdir,
            count=events,
            batch_size=batch_size,
            seed=2000 + batch_size,
            meter_children=children,
            stages=batch_stages if batch_size == pipeline.PROFILED_BATCH else None,
        )
        if batch_size == pipeline.PROFILED_BATCH:
            row["stage_ms_per_event"] = {
                name: round(1000 * seconds / events, 3) for name, seconds in batch_stages.items()
            }
        ours.append(row)
        print(f"  pipeline ours batch={batch_size:<4} {row['per_second']:>7.1f} events/s")
    profile_events = 300 if quick else 2_000
    profiled = await pipeline.run_ours(
        target,
        tables,
        workdir,
        count=profile_events,
        concurrency=pipeline.PROFILED_CONCURRENCY,
        seed=5000,
        meter_children=children,
        profile_to=RESULTS / f"profile-pipeline{'-quick' if quick else ''}.txt",
    )
    latency = await _pipeline_with_latency(target, tables, workdir, quick=quick, children=children)
    return {"events": events, "ours": ours, "reference": refs, "profile": profiled, "with_latency": latency}


async def _pipeline_with_latency(
    target: Any, tables: str, workdir: Path, *, quick: bool, children: dict[str, Any]
) -> dict[str, Any]:
    """The faster reference variant and our batch function again, with every NH send answered after a delay."""
    events = 300 if quick else 2_000
    target.set_send_latency(pipeline.NH_LATENCY)
    try:
        single = await pipeline.run_ours(
            target,
            tables,
            workdir,
            count=events,
            concurrency=pipeline.PROFILED_CONCURRENCY,
            seed=6999,
            meter_children=children,
        )
        ours = await pipeline.run_ours(
            target,
            tables,
            workdir,
            count=events,
            batch_size=pipeline.PROFILED_BATCH,
            seed=7000,
            meter_children=children,
        )
        ref = await reference.run_reference(
            target, workdir, count=events, seed=7001, keep_alive=True, meter_children=children
        )
    finally:
        target.set_send_latency(0)
    for row in (single, ours, ref):
        label = f"with {1000 * pipeline.NH_LATENCY:.0f} ms NH latency: {row['variant']}"
        print(f"  pipeline {label:<60} {row['per_second']:>7.1f} events/s")
    return {
        "latency_ms": 1000 * pipeline.NH_LATENCY,
        "events": events,
        "single": single,
        "ours": ours,
        "reference": ref,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmarks, write bench/results/*.json, docs/benchmarks.md and docs/bench-*.png."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="reduced sizes and durations (under a minute)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated subset of " + ", ".join(SECTIONS))
    parser.add_argument("--render", action="store_true", help="only redraw the doc and plots from the saved JSON")
    args = parser.parse_args(argv)
    name = "benchmarks-quick.json" if args.quick else "benchmarks.json"
    if args.render:
        _write_outputs(json.loads((RESULTS / name).read_text(encoding="utf-8")), RESULTS / name)
        return
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    wrk = tools.ensure_wrk() if "sends" in wanted else None
    results: dict[str, Any] = {"quick": args.quick, "machine": machine.describe(), "timings": {}}
    partial = set(wanted) != set(SECTIONS)
    if partial:  # a subset never overwrites the full run's JSON, doc or plots
        name = name.replace("benchmarks", "benchmarks-" + "-".join(wanted))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="push-bench-") as directory:
        workdir = Path(directory)
        with azurite(workdir) as (tables_process, tables), nh_target(workdir, sink=True, name="sink") as sink:
            os.environ["SSL_CERT_FILE"] = str(sink.ca_file)
            children = {"NH sink": sink.process, "Azurite": tables_process}
            emulator_children = {"Azurite": tables_process}

            def run_registration() -> dict[str, Any]:
                with nh_target(workdir, sink=False, name="emulator") as emulator:
                    emulator_children["NH emulator"] = emulator.process
                    return registration.run(emulator, tables, workdir, quick=args.quick, children=emulator_children)

            def run_profiles() -> dict[str, Any]:
                with nh_target(workdir, sink=False, name="profile-emulator") as emulator:
                    return profiles.run(sink, emulator, tables, workdir, quick=args.quick, children=children)

            sections: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
                "profile": ("6. Profiles (pyinstrument)", run_profiles),
                "sends": ("1. NH send throughput", lambda: sends.run(sink, workdir, quick=args.quick, wrk=wrk)),
                "pipeline": (
                    "2. Pipeline throughput",
                    lambda: asyncio.run(_pipeline(sink, tables, workdir, quick=args.quick, children=children)),
                ),
                "registration": ("3. Registration", run_registration),
                "grown": (
                    "3b. Registration against a grown emulator",
                    lambda: registration_grown.run(tables, workdir, quick=args.quick, children=emulator_children),
                ),
                "latency": (
                    "2b. One-user notifications, POST /api/events, event -> push latency",
                    lambda: latency.run(sink, tables, workdir, quick=args.quick, children=children, results=results),
                ),
                "audience": (
                    "4. Cost against audience size",
                    lambda: audience.run(tables, workdir, quick=args.quick, children={"Azurite": tables_process}),
                ),
                "realtime": ("5. Real-time delivery", lambda: realtime.run(workdir, tables, quick=args.quick)),
            }
            for key in [name for name in SECTIONS if name in wanted]:
                title, run_section = sections[key]
                print(title, flush=True)
                section = time.perf_counter()
                os.environ["SSL_CERT_FILE"] = str(sink.ca_file)
                try:
                    results[key] = run_section()
                except Exception as exc:  # one failing section must not lose the others' figures
                    logging.exception("section %s failed", key)
                    results[key] = {"error": f"{type(exc).__name__}: {exc}"}
                results["timings"][key] = round(time.perf_counter() - section, 1)
                (RESULTS / name).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    results["timings"]["total"] = round(time.perf_counter() - started, 1)
    results["machine"]["load_average_after"] = Path("/proc/loadavg").read_text().split()[:3]
    (RESULTS / name).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    if partial:
        markdown = (RESULTS / name).with_suffix(".md")
        markdown.write_text(report.render(results, RESULTS / name), encoding="utf-8")
        print(f"wrote {RESULTS / name} and {markdown} in {results['timings']['total']} s")
        return
    _write_outputs(results, RESULTS / name)
    print(f"wrote {RESULTS / name}, docs/benchmarks.md and plots in {results['timings']['total']} s")


def _write_outputs(results: dict[str, Any], json_path: Path) -> None:
    try:
        from bench import plots
    except ImportError as exc:  # matplotlib comes with requirements-bench.txt
        print(f"plots not drawn ({exc}); install requirements-bench.txt to draw them")
    else:
        for section_name, draw in (
            ("sends", plots.sends),
            ("pipeline", plots.pipeline),
            ("registration", plots.registration),
            ("audience", plots.audience),
        ):
            if section_name in results and "error" not in results[section_name]:
                draw(results[section_name], DOCS / f"bench-{section_name}.png")
    page = report.page_results(results)  # with the real-time section when `python -m bench.realtime` ran on its own
    (DOCS / "benchmarks.md").write_text(report.render(page, json_path), encoding="utf-8")


if __name__ == "__main__":
    main()
