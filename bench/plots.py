"""PNG plots of a benchmark run (matplotlib, Agg backend)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _bars(ax: Any, groups: list[str], series: dict[str, list[float]], ylabel: str) -> None:
    width = 0.8 / max(len(series), 1)
    for index, (name, values) in enumerate(series.items()):
        positions = [g + (index - (len(series) - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(positions, values, width, label=name)
        ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=1)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def sends(result: dict[str, Any], path: Path) -> None:
    """Grouped bars: sends/s per client at each concurrency."""
    rows = result["rows"]
    levels = sorted({row["concurrency"] for row in rows})
    clients = list(dict.fromkeys(_client_family(row["client"]) for row in rows))
    series = {
        client: [
            next((r["per_second"] for r in rows if r["concurrency"] == c and _client_family(r["client"]) == client), 0)
            for c in levels
        ]
        for client in clients
    }
    fig, ax = plt.subplots(figsize=(9, 4.8))
    _bars(ax, [f"concurrency {c}" for c in levels], series, "template sends per second")
    ax.set_title("1. NH template sends/s to one loopback sink (https)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _client_family(name: str) -> str:
    return name.split(" (")[0]


def pipeline(result: dict[str, Any], path: Path) -> None:
    """Bars: events/s of our function per shape and of the reference pattern; right, the same with NH latency."""
    labels = [_pipeline_label(row) for row in result["ours"]] + [
        _reference_label(row["variant"]) for row in result["reference"]
    ]
    values = [row["per_second"] for row in result["ours"]] + [row["per_second"] for row in result["reference"]]
    colors = ["tab:blue" if row.get("batch_size") else "tab:cyan" for row in result["ours"]]
    colors += ["tab:gray"] * len(result["reference"])
    latency = result.get("with_latency")
    fig, axes = plt.subplots(1, 2 if latency else 1, figsize=(12 if latency else 9, 4.8), squeeze=False)
    left = axes[0][0]
    bars = left.bar(range(len(values)), values, color=colors)
    left.bar_label(bars, fmt="%.0f", fontsize=8)
    left.set_xticks(range(len(values)), labels, fontsize=7)
    left.set_ylabel("events per second")
    left.set_title(f"{result['events']:,} events, loopback", fontsize=10)
    left.grid(axis="y", alpha=0.3)
    if latency:
        right = axes[0][1]
        ours = [row for row in (latency.get("single"), latency["ours"]) if row is not None]
        values = [row["per_second"] for row in ours] + [latency["reference"]["per_second"]]
        shades = ["tab:blue" if row.get("batch_size") else "tab:cyan" for row in ours] + ["tab:gray"]
        bars = right.bar(range(len(values)), values, color=shades)
        right.bar_label(bars, fmt="%.0f", fontsize=8)
        names = [_pipeline_label(row) for row in ours] + [_reference_label(latency["reference"]["variant"])]
        right.set_xticks(range(len(values)), names, fontsize=7)
        right.set_title(f"every NH answer {latency['latency_ms']:.0f} ms later (modelled)", fontsize=10)
        right.grid(axis="y", alpha=0.3)
    fig.suptitle("2. Pipeline: events through the push function vs the reference pattern")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _reference_label(variant: str) -> str:
    """ "reference pattern, new connection per send" on short lines, so neighbouring tick labels do not overlap."""
    return "reference:\n" + "\n".join(textwrap.wrap(variant.removeprefix("reference pattern, "), 10))


def _pipeline_label(row: dict[str, Any]) -> str:
    return f"ours batch\n{row['batch_size']}" if row.get("batch_size") else f"ours single\nc={row['concurrency']}"


def registration(result: dict[str, Any], path: Path) -> None:
    """Requests/s (bars) and p50/p95/p99 latency (lines) per concurrency."""
    rows = result["rows"]
    levels = [str(row["concurrency"]) for row in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4))
    bars = left.bar(levels, [row["per_second"] for row in rows], color="tab:green")
    left.bar_label(bars, fmt="%.0f", fontsize=8)
    left.set_xlabel("concurrency")
    left.set_ylabel("PUT installation requests per second")
    left.grid(axis="y", alpha=0.3)
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        right.plot(levels, [row[key] or 0 for row in rows], marker="o", label=key.replace("_ms", ""))
    right.set_xlabel("concurrency")
    right.set_ylabel("latency (ms)")
    right.set_yscale("log")
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    fig.suptitle("3. Registration through the dev host")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def audience(result: dict[str, Any], path: Path) -> None:
    """Per-event cost on the function's side against audience size (log x)."""
    rows = result["rows"]
    sizes = [row["installations"] for row in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4))
    left.plot(sizes, [row["wall_ms_per_event"] for row in rows], marker="o", label="function wall ms/event")
    left.plot(sizes, [row["cpu_ms_per_event"] for row in rows], marker="o", label="function CPU ms/event")
    left.plot(sizes, [row["nh_requests_per_event"] for row in rows], marker="s", label="NH requests/event")
    left.set_xscale("log")
    left.set_xlabel("registered installations")
    left.set_ylim(bottom=0)
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    right.plot(sizes, [row["tracemalloc_peak_kib"] for row in rows], marker="o", color="tab:purple")
    right.set_xscale("log")
    right.set_ylim(0, 1.3 * max(row["tracemalloc_peak_kib"] for row in rows))
    right.set_xlabel("registered installations")
    right.set_ylabel("tracemalloc peak per event (KiB)")
    right.grid(alpha=0.3)
    fig.suptitle("4. Cost per event against audience size (one template send per event)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
