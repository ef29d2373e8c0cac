"""Sections 3 and 4 of docs/benchmarks.md: registration and the cost against audience size."""

from __future__ import annotations

from typing import Any

from bench.report_tables import cpu_text, table

__all__ = ["audience_section", "registration_section"]


def registration_section(result: dict[str, Any], cores: int) -> list[str]:
    rows = [
        [
            row["concurrency"],
            row["per_second"],
            row["p50_ms"],
            row["p95_ms"],
            row["p99_ms"],
            row["requests"],
            row["errors"],
            cpu_text(row["cpu_seconds"], max(row["requests"], 1), cores, row["seconds"] + result["warmup_seconds"]),
        ]
        for row in result["rows"]
    ]
    return [
        "## 3. Registration",
        "",
        "`PUT /api/installations/{id}` (new installation id and user per request, fcmv1, interests hr+orders) through "
        "the dev host (`python -m local.devhost`, one process) with dev auth, against Azurite and the NH emulator in "
        f"full mode (installations stored). {result['warmup_seconds']} s warm-up, {result['seconds']} s measured per "
        "row (the CPU columns cover the measured seconds only), as many workers as the concurrency, each with its own "
        "httpx.AsyncClient on one kept-alive connection. A first registration reads the device's row and the user's "
        "preferences, claims the installation id (insert-if-absent) while reading the push channel's earlier "
        "holders, writes the mirror's row and its channel index row as pending, PUTs the NH installation and marks "
        "the row active: seven Tables requests in four round trips, one after another, and one NH PUT.",
        "",
        table(
            [
                "concurrency",
                "requests/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "requests",
                "errors",
                "CPU ms per request by process",
            ],
            rows,
        ),
        "",
        "![registration](bench-registration.png)",
        "",
    ]


def audience_section(result: dict[str, Any]) -> list[str]:
    rows = [
        [
            row["installations"],
            row["nh_requests_per_event"],
            row["fanout_nh_requests_per_event"],
            row["devices_reached_per_event"],
            row["wall_ms_per_event"],
            row["cpu_ms_per_event"],
            row["tracemalloc_peak_kib"],
            row["emulator_send_ms"],
        ]
        for row in result["rows"]
    ]
    return [
        "## 4. Cost against audience size",
        "",
        "Installations are written straight into the emulator's state file in the shape the registration use case "
        "builds (server tags with `topic:hr`, an alert and a silent template for the device's platform and language), "
        "so every HR event reaches all of them. Timing pass: "
        f"{result['events']} events one after another through `shared.triggers.pipeline.deliver` (the push "
        "function's use case: claim on Azurite, one template send, record) against the emulator in sink mode with "
        "the audience loaded; a second pass under tracemalloc gives the peak memory per event. Fan-out pass: "
        f"{result['fanout_events']} event(s) against the full emulator with the same audience, which counts the NH "
        "requests it received and the devices the send reached. The emulator fans out synchronously before it "
        "answers; real NH answers 201 once the send is queued, so that time is NH's, not the function's.",
        "",
        table(
            [
                "installations",
                "NH requests/event (timing)",
                "NH requests/event (fan-out)",
                "devices reached/event",
                "function wall ms/event",
                "function CPU ms/event",
                "tracemalloc peak KiB/event",
                "emulator fan-out ms/send (NH's side)",
            ],
            rows,
        ),
        "",
        "![audience](bench-audience.png)",
        "",
        _audience_summary(result["rows"]),
        "",
    ]


def _audience_summary(rows: list[dict[str, Any]]) -> str:
    first, last = rows[0], rows[-1]
    requests = sorted({row["nh_requests_per_event"] for row in rows})
    growth = last["cpu_ms_per_event"] / first["cpu_ms_per_event"] if first["cpu_ms_per_event"] else 0.0
    per_event = (
        f"{requests[0]:g} NH request(s) per event at every size"
        if len(requests) == 1
        else f"{requests[0]:g} to {requests[-1]:g} NH requests per event"
    )
    return (
        f"{per_event}; the function's CPU per event changes by {growth:.2f}× from {first['installations']:,} to "
        f"{last['installations']:,} installations, while the fan-out (devices reached per event) is Notification "
        "Hubs' work."
    )
