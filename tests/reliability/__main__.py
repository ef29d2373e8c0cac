"""``python -m tests.reliability [--full]``: run the reliability tier and print its tables; with ``--full`` at full
size (5,000 events, 60 s of load, thousands of generated requests) and write them to docs/reliability.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.reliability.ledger import markdown_table
from tests.reliability.report import REPORT_ENV
from tests.reliability.sizes import CI, FULL, Sizes

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"


def machine() -> str:
    """CPU model, cores, memory, OS and Python, as a reader needs them to weigh the figures."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.1f} GiB RAM"
    return (
        f"{model}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )


def outcomes(junit: Path) -> list[dict[str, str]]:
    """Each test's outcome from pytest's JUnit XML (xfail is reported as skipped with type pytest.xfail)."""
    rows = []
    for case in ElementTree.parse(junit).getroot().iter("testcase"):  # noqa: S314 -- our own pytest's output
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "FAILED" if child.tag == "failure" else "ERROR"
            elif child.tag == "skipped":
                outcome = "xfailed (known bug)" if child.get("type") == "pytest.xfail" else "skipped"
        rows.append({"test": f"{case.get('classname', '').split('.')[-1]}::{case.get('name')}", "outcome": outcome})
    return rows


def render(report: dict[str, Any], tests: list[dict[str, str]], sizes: Sizes, command: str, seconds: float) -> str:
    events = [{k: v for k, v in row.items() if k != "notes"} for row in report["events"]]
    notes = [
        f"- **{row['scenario']}**: " + "; ".join(f"{k}: {v}" for k, v in row["notes"].items())
        for row in report["events"]
        if row["notes"]
    ]
    parts = [
        "# Reliability results",
        "",
        "Written by `python -m tests.reliability --full` (do not edit by hand). The CI runs the same tier in a "
        "bounded size (`python -m pytest tests/reliability`, defaults in `tests/reliability/sizes.py`).",
        "",
        f"- Command: `{command}`",
        f"- Sizes: {sizes}",
        f"- Machine: {machine()}",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; whole run {seconds / 60:.1f} min",
        "",
        "## Events",
        "",
        "Every event is addressed to one registered device; pushes are counted per event id and installation in the "
        "NH emulator (`/_emulator/deliveries`), dead letters and quarantined messages come from `GET /api/deadletters`."
        " *Lost* = neither pushed nor listed with a reason.",
        "",
        markdown_table(events),
        "",
        *notes,
    ]
    for name, rows in report["tables"].items():
        parts += ["", f"## {name}", "", markdown_table(rows)]
    parts += ["", "## Test outcomes", "", markdown_table(tests), ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability", description=__doc__)
    parser.add_argument("--full", action="store_true", help="full size; writes docs/reliability.md")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (e.g. -k faults)")
    args = parser.parse_args(argv)
    sizes = FULL if args.full else CI
    with tempfile.TemporaryDirectory(prefix="reliability-") as workdir:
        report_file, junit = Path(workdir) / "report.json", Path(workdir) / "junit.xml"
        env = {**os.environ, **sizes.as_env(), REPORT_ENV: str(report_file)}
        command = [
            sys.executable, "-m", "pytest", "tests/reliability", "-p", "no:cacheprovider", "-o", "timeout=1800",
            f"--junitxml={junit}", *args.pytest_args,
        ]  # fmt: skip
        started = time.monotonic()
        code = subprocess.call(command, cwd=ROOT, env=env)
        seconds = time.monotonic() - started
        if args.full and report_file.exists():
            report = json.loads(report_file.read_text(encoding="utf-8"))
            shown = "python -m tests.reliability --full" + "".join(f" {a}" for a in args.pytest_args)
            DOC.write_text(render(report, outcomes(junit), sizes, shown, seconds), encoding="utf-8")
            print(f"wrote {DOC.relative_to(ROOT)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
