"""docs/reliability.md from the JSON of one full run (docs/reliability.json): every figure in the page comes from
that JSON, so a test can render it again and compare (tests/unit/test_docs.py)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from tests.reliability.ledger import markdown_table

__all__ = ["machine_facts", "render"]

EVENTS_HELP = (
    "Each scenario publishes its events onto the local bus (each addressed to one registered device) and then "
    "counts, from outside the app: the template sends the NH emulator processed (`/_emulator/notifications`), the "
    "pushes each device received (`/_emulator/deliveries`), the notifications each device's screen shows after its "
    "platform's collapse rules (`/_emulator/devices`), and what the operator's `GET /api/deadletters` lists. "
    "*Lost*: should have reached a device and did not (a dead-lettered event counts as lost too). "
    "*Sent twice to NH*: sends beyond the first for one event (NH offers no idempotency key). *Received twice*: "
    "pushes beyond the first that one device got for one event. *Seen twice*: notifications beyond the first that "
    "one screen shows for one event. Dead-lettered and quarantined: counted, with what the scenario expects in "
    "brackets."
)


def machine_facts() -> dict[str, Any]:
    """CPU model, cores, memory, OS and Python, as a reader needs them to weigh the figures."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        memory_gib = round(int(meminfo.read_text().split()[1]) / 1024 / 1024, 1)
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def _machine(facts: dict[str, Any]) -> str:
    memory = f", {facts['memory_gib']} GiB RAM" if facts.get("memory_gib") is not None else ""
    return f"{facts['cpu_model']}, {facts['cores']} cores{memory}; {facts['os']}; Python {facts['python']}"


def _notes(events: list[dict[str, Any]]) -> list[str]:
    return [
        f"- **{row['scenario']}**: " + "; ".join(f"{key}: {value}" for key, value in row["notes"].items())
        for row in events
        if row.get("notes")
    ]


def render(results: dict[str, Any]) -> str:
    """The whole page, from a run's results (see tests/reliability/__main__.py for the keys)."""
    events = [{key: value for key, value in row.items() if key != "notes"} for row in results["events"]]
    sizes = ", ".join(f"{key} {value}" for key, value in results["sizes"].items())
    parts = [
        "# Reliability results",
        "",
        "Written by `python -m tests.reliability --full` from `docs/reliability.json` (do not edit by hand; "
        "`tests/unit/test_docs.py` checks that this page is that JSON rendered). The CI runs the same tier in a "
        "bounded size (`python -m pytest tests/reliability`, defaults in `tests/reliability/sizes.py`).",
        "",
        f"- Command: `{results['command']}`",
        f"- Sizes: {sizes}",
        f"- Machine: {_machine(results['machine'])}",
        f"- Date: {results['date']}; whole run {results['seconds'] / 60:.1f} min",
        "",
        "## Events",
        "",
        EVENTS_HELP,
        "",
        markdown_table(events),
        "",
        *_notes(results["events"]),
    ]
    for name, rows in results["tables"].items():
        parts += ["", f"## {name}", "", markdown_table(rows)]
    parts += ["", "## Test outcomes", "", markdown_table(results["tests"]), ""]
    return "\n".join(parts)
