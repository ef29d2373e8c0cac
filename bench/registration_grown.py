"""Benchmark 3, last part: registration with the NH emulator already holding many installations, against empty.

The emulator (full mode, installations stored and persisted to its state file) is started on a state file written
with ``size`` installations in the shape the registration use case builds (``bench.audience.write_state_file``), and
on an empty one; the time from process start to its first health answer is its restart time on that state. First
registrations then run through the dev host against each, at the same concurrency levels.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.audience import write_state_file
from bench.procs import Child
from bench.registration import load_rows
from bench.target import nh_target

SIZE = 100_000
LEVELS = (16, 64)


def run(tables: str, workdir: Path, *, quick: bool, children: dict[str, Child]) -> dict[str, Any]:
    """Rows for an empty emulator and one holding ``SIZE`` installations (20,000 in quick mode)."""
    size = 20_000 if quick else SIZE
    timing = (0.5, 2.0) if quick else (2.0, 8.0)
    result: dict[str, Any] = {"installations": size, "warmup_seconds": timing[0], "seconds": timing[1], "runs": []}
    for held in (0, size):
        state = workdir / f"grown-{held}" / "nh-state.json"
        state.parent.mkdir(parents=True, exist_ok=True)
        written = time.perf_counter()
        write_state_file(state, held)
        written = time.perf_counter() - written
        started = time.perf_counter()
        with nh_target(workdir, sink=False, name=f"grown-{held}", state_file=state) as target:
            restart = time.perf_counter() - started
            print(f"  registration: emulator holding {held} installations ready in {restart:.2f} s", flush=True)
            rows = load_rows(
                target,
                tables,
                workdir,
                "function_app",
                {**children, "NH emulator": target.process},
                timing,
                refresh=False,
                label=f"held={held}",
                levels=LEVELS,
            )
        result["runs"].append(
            {
                "held": held,
                "state_file_mb": round(state.stat().st_size / 1e6, 1),
                "state_write_seconds": round(written, 1),
                "restart_seconds": round(restart, 2),
                "rows": rows,
            }
        )
    return result
