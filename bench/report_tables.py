"""Table and figure helpers for docs/benchmarks.md: every figure they print comes from the results they are given."""

from __future__ import annotations

from typing import Any

__all__ = ["CEILING_GOAL", "SENDS_GOAL", "busy_share", "cell", "cpu_text", "table", "verdict"]

# The goals the benchmarks are judged against (targets set for the project, not measurements).
SENDS_GOAL, CEILING_GOAL = 3.0, 0.5


def table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; numbers formatted by ``cell``."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def verdict(ratio: float, goal: float) -> str:
    return f"**{'met' if ratio >= goal else 'missed'}** ({ratio:.2f}× measured, goal ≥ {goal:g}×)"


def busy_share(used: dict[str, float], cores: int, wall: float) -> float:
    """The share of the machine's core-seconds that every process together (other processes included) used."""
    return sum(used.values()) / (wall * cores) if wall and cores else 0.0


def cpu_text(used: dict[str, float], events: int, cores: int, wall: float | None = None) -> str:
    """CPU milliseconds per event by process; with ``wall``, the share of the cores other processes held."""
    text = ", ".join(f"{name} {1000 * seconds / events:.2f}" for name, seconds in used.items())
    if wall:
        share = 100 * used.get("other processes", 0.0) / (wall * cores)
        text += f" (other processes held {share:.0f}% of the {cores} cores)"
    return text
