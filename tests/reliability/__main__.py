"""``python -m tests.reliability [--full]``: run the reliability tier and print its tables; with ``--full`` at full
size (5,000 events, 60 s of load, thousands of generated requests) and save the results to docs/reliability.json,
rendered as docs/reliability.md."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from tests.reliability.document import machine_facts, render
from tests.reliability.report import REPORT_ENV
from tests.reliability.sizes import CI, FULL

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
RESULTS = ROOT / "docs" / "reliability.json"


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
            results = {
                "command": "python -m tests.reliability --full" + "".join(f" {a}" for a in args.pytest_args),
                "sizes": asdict(sizes),
                "machine": machine_facts(),
                "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
                "seconds": round(seconds, 1),
                "events": report["events"],
                "tables": report["tables"],
                "tests": outcomes(junit),
            }
            RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            DOC.write_text(render(json.loads(RESULTS.read_text(encoding="utf-8"))), encoding="utf-8")
            print(f"wrote {RESULTS.relative_to(ROOT)} and {DOC.relative_to(ROOT)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
