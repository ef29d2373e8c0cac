"""Report sections for benchmark 3's extra rows (refresh, floor, grown emulator) and benchmark 2b (one-user,
POST /api/events end to end, event -> push latency)."""

from __future__ import annotations

from typing import Any

__all__ = ["grown", "latency", "profiles", "registration_side_by_side"]


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if cell is None else str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _ratio(ours: float | None, base: float | None) -> str:
    return f"{ours / base:.2f}×" if ours and base else "n/a"


def _cpu_ms(row: dict[str, Any]) -> str:
    used = row.get("cpu_seconds", {})
    count = max(row.get("requests", 0), 1)
    return ", ".join(f"{name} {1000 * seconds / count:.1f}" for name, seconds in used.items() if name != "machine")


def registration_side_by_side(result: dict[str, Any]) -> list[str]:
    """First registration, refresh of an unchanged device and the floor, per concurrency."""
    if "floor_rows" not in result:
        return []
    rows = []
    for first, refresh, floor in zip(result["rows"], result["refresh_rows"], result["floor_rows"], strict=True):
        for label, row in (("ours: first registration", first), ("ours: refresh, unchanged", refresh)):
            rows.append(_row(label, row, floor))
        rows.append(_row("floor: 1 NH PUT + 1 Tables upsert", floor, floor))
    return [
        "### 3a. Registration beside its floor, and the refresh of an unchanged device",
        "",
        "Same dev host, same load client. *refresh*: each connection registers 4 devices first (not measured), then "
        "PUTs them again with the same body, as an app does at every launch. *floor*: `bench/registration_floor.py`, "
        "a function doing only one NH installation PUT (the same installation body) and one Tables upsert.",
        "",
        _table(
            ["row", "concurrency", "requests/s", "× floor", "p50 ms", "p99 ms", "errors", "CPU ms/request by process"],
            rows,
        ),
        "",
    ]


def _row(label: str, row: dict[str, Any], floor: dict[str, Any]) -> list[Any]:
    return [
        label,
        row["concurrency"],
        row["per_second"],
        _ratio(row["per_second"], floor["per_second"]),
        row["p50_ms"],
        row["p99_ms"],
        row["errors"],
        _cpu_ms(row),
    ]


def grown(result: dict[str, Any]) -> list[str]:
    """First registrations against an empty emulator and one already holding many installations."""
    runs = result["runs"]
    empty = {row["concurrency"]: row for row in runs[0]["rows"]}
    rows = [
        [
            f"{run['held']:,}",
            run["state_file_mb"],
            run["restart_seconds"],
            row["concurrency"],
            row["per_second"],
            _ratio(row["per_second"], empty[row["concurrency"]]["per_second"]),
            row["p50_ms"],
            row["p99_ms"],
        ]
        for run in runs
        for row in run["rows"]
    ]
    return [
        "### 3b. Registration with the NH emulator already holding installations",
        "",
        "The emulator (full mode, persisting to its state file) started on a state file with "
        f"{result['installations']:,} installations in the registration use case's shape, and on an empty one; "
        "*ready in* is the time from starting its process to its first health answer (Python start, TLS set-up, "
        "loading the state).",
        "",
        _table(
            ["held", "state MB (after)", "ready in s", "concurrency", "requests/s", "× empty", "p50 ms", "p99 ms"],
            rows,
        ),
        "",
    ]


def latency(result: dict[str, Any], hr_rows: list[dict[str, Any]] | None) -> list[str]:
    """One-user rows beside HR, the end-to-end row and the latency figures."""
    hr = {row["concurrency"]: row for row in hr_rows or [] if not row.get("batch_size")}
    rows = []
    for row in result["one_user"]:
        beside = hr.get(row["concurrency"])
        rows.append(
            [
                row["concurrency"],
                row["per_second"],
                beside["per_second"] if beside else None,
                row["nh_sends"],
                row["failed_invocations"],
                _cpu_ms_per_event(row),
            ]
        )
    e2e, lat = result["end_to_end"], result["latency"]
    return [
        "### 2b. One-user notifications, POST /api/events end to end, event -> push latency",
        "",
        f"{result['events']:,} `accounts.debit.posted` events, each for one of 200 users with stored preferences "
        "(debit threshold under every amount, so every event is sent; quiet hours around now for half of them, "
        "whose alert goes out silent), through `dispatch_accounts_event` as the HR rows are run. Per event, beside "
        "what an HR event writes: the user's preferences and devices read (signed requests of the row reader), "
        "a third ledger row, the inbox "
        "entry added before the push and updated after it (two rows in one transaction each time) and the secure "
        "content the debit's push points to; every write is a signed request of the row writer.",
        "",
        _table(
            [
                "maxConcurrentCalls",
                "one-user events/s",
                "HR events/s (same run, where measured)",
                "NH sends",
                "failed",
                "CPU ms/event by process",
            ],
            rows,
        ),
        "",
        *_end_to_end(e2e, result.get("end_to_end_approvals")),
        *_end_to_end_with_signalr(result.get("end_to_end_approvals_signalr")),
        f"Event -> push latency of the deployed single-message function (maxConcurrentCalls 64): HR events published "
        f"one by one at {lat['rate_per_second']}/s (half of {lat['maximum_per_second']}/s, {lat['maximum_from']}; "
        f"achieved {lat['achieved_publish_rate']}/s), {lat['accepted']:,}/{lat['events']:,} accepted: "
        f"**p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, p99 {lat['p99_ms']} ms** (max {lat['max_ms']} ms), from "
        "the publish call to the NH sink's answer to the send.",
        "",
    ]


def _end_to_end(debits: dict[str, Any], approvals: dict[str, Any] | None) -> list[str]:
    if approvals is None:  # a run from before the approvals row
        return [
            f"End to end: the same events POSTed to `/api/events` of one dev host process (whole app, local bus), 16 "
            f"connections: {debits['posts_per_second']} POSTs/s accepted; all {debits['nh_sends']:,} sends accepted "
            f"by the NH sink after {debits['seconds']} s, **{debits['per_second']} events/s end to end** "
            f"({debits['post_errors']} POST errors).",
            "",
        ]
    return [
        f"End to end, one-user budget approvals (`finance.budget_approval.requested`, one approver each, the kind of "
        f'event the issue\'s "about 100 events/s" was measured with): {approvals["events"]:,} POSTed to `/api/events` '
        f"of one dev host process (whole app, local bus, push only), 16 connections: "
        f"{approvals['posts_per_second']} POSTs/s accepted; {approvals['nh_sends']:,} sends accepted by the NH sink "
        f"after {approvals['seconds']} s, "
        f"**{approvals['per_second']} events/s end to end** ({approvals['post_errors']} POST errors). "
        f"CPU ms per event by process: {_cpu_ms_per_event(approvals)}.",
        "",
        f"End to end, the debits above, POSTed the same way after the approvals: {debits['posts_per_second']} POSTs/s "
        f"accepted; {debits['nh_sends']:,} sends accepted by the NH sink after {debits['seconds']} s, "
        f"**{debits['per_second']} events/s end to end** ({debits['post_errors']} POST errors). "
        f"CPU ms per event by process: {_cpu_ms_per_event(debits)}.",
        "",
    ]


def _end_to_end_with_signalr(approvals: dict[str, Any] | None) -> list[str]:
    if approvals is None:  # a run from before this row
        return []
    return [
        f"End to end, approvals again through a second dev host process configured with SignalR Service (the local "
        f"stand-in), as the app is deployed: nobody has the app open, so each event's presence check answers 'not "
        f"connected' before the push (and the inbox entry is written as before). {approvals['events']:,} POSTed: "
        f"{approvals['posts_per_second']} POSTs/s accepted; {approvals['nh_sends']:,} sends accepted by the NH sink "
        f"after {approvals['seconds']} s, **{approvals['per_second']} events/s end to end** "
        f"({approvals['post_errors']} POST errors). CPU ms per event by process: {_cpu_ms_per_event(approvals)}.",
        "",
    ]


def _cpu_ms_per_event(row: dict[str, Any]) -> str:
    return ", ".join(f"{k} {1000 * v / row['events']:.2f}" for k, v in row["cpu_seconds"].items() if k != "machine")


def profiles(result: dict[str, Any]) -> list[str]:
    """Self time by component of the two profiles, top 12 each."""
    out = ["## 6. Profiles", ""]
    for key, title, unit, count_key in (
        ("push", "Push function, HR events at maxConcurrentCalls 64", "event", "events"),
        ("registration", "Registration burst (in-process, 64 at a time)", "registration", "registrations"),
    ):
        section = result[key]
        count = max(section[count_key], 1)
        components = section["profile_by_component"]
        total = sum(components.values()) or 1.0
        rows = [
            [name, round(seconds, 3), f"{100 * seconds / total:.1f}%", round(1000 * seconds / count, 3)]
            for name, seconds in list(components.items())[:12]
        ]
        out += [
            f"### {title}: {section[count_key]:,} {count_key}, {section['per_second']}/s",
            "",
            _table(["component (self time)", "seconds", "share", f"ms per {unit}"], rows),
            "",
        ]
    return out
