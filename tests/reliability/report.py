"""The run's result tables: collected by the tests, printed at the end of the session, saved for the docs."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.reliability.ledger import Tally, markdown_table

__all__ = ["BOOK", "REPORT_ENV", "ReportBook"]

REPORT_ENV = "RELIABILITY_REPORT"


@dataclass
class ReportBook:
    """Event tallies (one row per scenario) and other named tables (API fuzzing, poison events, load)."""

    tallies: list[Tally] = field(default_factory=list)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add_tally(self, tally: Tally) -> None:
        self.tallies.append(tally)

    def add_row(self, table: str, row: dict[str, Any]) -> None:
        self.tables.setdefault(table, []).append(row)

    def as_json(self) -> dict[str, Any]:
        return {
            "events": [{**t.as_row(), "notes": t.notes} for t in self.tallies],
            "tables": self.tables,
        }

    def render(self) -> str:
        """Every table as Markdown, events first."""
        parts = []
        if self.tallies:
            parts.append("Events\n\n" + markdown_table(t.as_row() for t in self.tallies))
            notes = [{"scenario": t.scenario, **t.notes} for t in self.tallies if t.notes]
            for row in notes:
                parts.append("  " + row.pop("scenario") + ": " + ", ".join(f"{k}: {v}" for k, v in row.items()))
        for name, rows in self.tables.items():
            parts.append(f"{name}\n\n" + markdown_table(rows))
        return "\n\n".join(parts)

    def save(self) -> None:
        """Write the JSON to $RELIABILITY_REPORT when the runner set it."""
        target = os.environ.get(REPORT_ENV)
        if target:
            Path(target).write_text(json.dumps(self.as_json(), indent=2, default=str), encoding="utf-8")


BOOK = ReportBook()
