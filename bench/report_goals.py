"""The goals of making exactly-once cheap (the push function and registration), judged from one run's results.

Every verdict compares figures of the same run, except the "× before" goals: their baselines are the figures
measured before that work began, which the goals were set against (targets, like the ratios, not measurements of
this run).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["BASELINES", "exactly_once_goals"]

# Measured before the work on cheap exactly-once began (one `make bench` run and an outside load tool against
# `make run`): registration requests/s at c=64, and one-user events/s drained end to end through POST /api/events.
BASELINES = {"registration_c64": 72.0, "end_to_end": 100.0}

PIPELINE_RATE, PIPELINE_CPU, PIPELINE_LATENCY = 1.0, 1.5, 10.0
REGISTRATION_FLOOR, REGISTRATION_BEFORE, REGISTRATION_P99_MS, REGISTRATION_C1_P50_MS = 0.7, 4.0, 250.0, 8.0
END_TO_END_BEFORE, GROWN_WITHIN, RESTART_SECONDS = 2.0, 0.2, 10.0


def _met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def _at_least(ratio: float, goal: float) -> str:
    return f"{_met(ratio >= goal)} ({ratio:.2f}× measured, goal ≥ {goal:g}×)"


def _at_most(ratio: float, goal: float) -> str:
    return f"{_met(ratio <= goal)} ({ratio:.2f}× measured, goal ≤ {goal:g}×)"


def _cpu_ms(used: dict[str, float], count: int, *, leave_out: tuple[str, ...] = ()) -> float:
    """CPU ms per event or request over the processes doing the work (not other processes' work, nor ``leave_out``)."""
    left_out = ("other processes", "machine", *leave_out)
    return 1000 * sum(v for k, v in used.items() if k not in left_out) / max(count, 1)


def _at(rows: list[dict[str, Any]], concurrency: int) -> dict[str, Any] | None:
    return next((row for row in rows if row["concurrency"] == concurrency and not row.get("batch_size")), None)


def _pipeline(result: dict[str, Any]) -> list[str]:
    reference = max(
        (row for row in result["reference"] if "kept-alive" in row["variant"]),
        key=lambda row: row["per_second"],
        default=None,
    )
    ours = _at(result["ours"], 64)
    if reference is None or ours is None:
        return []
    ours_cpu = _cpu_ms(ours["cpu_seconds"], ours["events"])
    reference_cpu = _cpu_ms(reference["cpu_seconds"], reference["events"])
    out = [
        f"Pipeline, the single-message function at c=64 against the kept-alive reference: events/s "
        f"{_at_least(ours['per_second'] / reference['per_second'], PIPELINE_RATE)} — {ours['per_second']:,.1f} "
        f"against {reference['per_second']:,.1f}/s",
        f"Pipeline, CPU per event over the function, the NH sink and Azurite against the reference's: "
        f"{_at_most(ours_cpu / reference_cpu, PIPELINE_CPU)} — {ours_cpu:.2f} ms against {reference_cpu:.2f} ms",
    ]
    modelled = result.get("with_latency")
    if modelled and modelled.get("single"):
        ratio = modelled["single"]["per_second"] / modelled["reference"]["per_second"]
        out.append(
            f"Pipeline with every NH answer {modelled['latency_ms']:g} ms away (modelled), the function at c=64: "
            f"{_at_least(ratio, PIPELINE_LATENCY)}"
        )
    return out


def _registration(result: dict[str, Any]) -> list[str]:
    if "floor_rows" not in result:
        return []
    first, floor, refresh = (_at(result[key], 64) for key in ("rows", "floor_rows", "refresh_rows"))
    single = _at(result["rows"], 1)
    if first is None or floor is None or refresh is None or single is None:
        return []

    def cpu(row: dict[str, Any]) -> float:
        # In these rows the benchmark process is the load client, not the app: the dev host, Azurite and NH count.
        return _cpu_ms(row["cpu_seconds"], row["requests"], leave_out=("benchmark process",))

    return [
        f"Registration at c=64 against its floor: "
        f"{_at_least(first['per_second'] / floor['per_second'], REGISTRATION_FLOOR)} — "
        f"{first['per_second']:,.1f} against {floor['per_second']:,.1f} requests/s",
        f"Registration at c=64 against before: "
        f"{_at_least(first['per_second'] / BASELINES['registration_c64'], REGISTRATION_BEFORE)} — "
        f"{first['per_second']:,.1f} against {BASELINES['registration_c64']:g} requests/s",
        f"Registration p99 at c=64 ≤ {REGISTRATION_P99_MS:g} ms: {_met(first['p99_ms'] <= REGISTRATION_P99_MS)} "
        f"({first['p99_ms']:,.1f} ms; the floor's {floor['p99_ms']:,.1f} ms)",
        f"Registration p50 at c=1 ≤ {REGISTRATION_C1_P50_MS:g} ms: "
        f"{_met(single['p50_ms'] <= REGISTRATION_C1_P50_MS)} ({single['p50_ms']:,.1f} ms)",
        f"The refresh of an unchanged device is cheaper than a first registration (CPU per request at c=64 over the "
        f"dev host, Azurite and the NH emulator): "
        f"{_met(cpu(refresh) < cpu(first))} (refresh {cpu(refresh):.1f} ms, first {cpu(first):.1f} ms, "
        f"floor {cpu(floor):.1f} ms)",
    ]


def _grown(result: dict[str, Any]) -> list[str]:
    runs = result["runs"]
    if len(runs) < 2:
        return []
    empty, grown = runs[0], runs[-1]
    empty_rate = {row["concurrency"]: row["per_second"] for row in empty["rows"]}
    worst = min(row["per_second"] / empty_rate[row["concurrency"]] for row in grown["rows"])
    return [
        f"Registration with {grown['held']:,} installations held, within {GROWN_WITHIN:.0%} of an empty emulator: "
        f"{_met(worst >= 1 - GROWN_WITHIN)} (worst concurrency {worst:.2f}× empty)",
        f"The emulator ready again with that state within {RESTART_SECONDS:g} s: "
        f"{_met(grown['restart_seconds'] <= RESTART_SECONDS)} ({grown['restart_seconds']:g} s)",
    ]


def _latency(result: dict[str, Any]) -> list[str]:
    """Judged on the approvals, the kind of event the baseline was measured with; the debits are shown beside."""
    approvals = result.get("end_to_end_approvals")
    debits = result["end_to_end"]["per_second"]
    if approvals is None:
        return [
            f"One-user events through POST /api/events end to end against before: "
            f"{_at_least(debits / BASELINES['end_to_end'], END_TO_END_BEFORE)} — {debits:,.1f} against "
            f"{BASELINES['end_to_end']:g} events/s",
        ]
    rate = approvals["per_second"]
    beside = f"sensitive debits, with secure content: {debits:,.1f} events/s"
    with_signalr = result.get("end_to_end_approvals_signalr")
    if with_signalr is not None:
        beside += f"; approvals with SignalR Service configured: {with_signalr['per_second']:,.1f} events/s"
    return [
        f"One-user approvals through POST /api/events end to end against before: "
        f"{_at_least(rate / BASELINES['end_to_end'], END_TO_END_BEFORE)} — {rate:,.1f} against "
        f"{BASELINES['end_to_end']:g} events/s ({beside})",
    ]


_SECTIONS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "pipeline": _pipeline,
    "latency": _latency,
    "registration": _registration,
    "grown": _grown,
}


def exactly_once_goals(results: dict[str, Any]) -> list[str]:
    """One verdict line per goal whose figures are in ``results`` (sections that failed are left out)."""
    return [
        line
        for key, judge in _SECTIONS.items()
        if isinstance(results.get(key), dict) and "error" not in results[key]
        for line in judge(results[key])
    ]
