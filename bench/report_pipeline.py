"""Section 2 of docs/benchmarks.md: pipeline throughput, from one run's JSON results."""

from __future__ import annotations

from typing import Any

from bench.batch_dispatch import BatchLimits
from bench.report_tables import busy_share, cpu_text, table

__all__ = ["pipeline_section", "shape"]

BATCH_SENDS = BatchLimits().send_concurrency  # the batch function's sends in flight


def pipeline_section(result: dict[str, Any], cores: int, sink_ms: float | None) -> list[str]:
    """Section 2 (pipeline throughput); its goals are judged in ``bench.report_goals``."""
    events = result["events"]
    ours, refs = result["ours"], result["reference"]
    singles = [row for row in ours if not row.get("batch_size")]
    batches = [row for row in ours if row.get("batch_size")]
    variants = [
        [
            row["variant"],
            shape(row),
            row["per_second"],
            row["seconds"],
            row["nh_sends"],
            row.get("failed_invocations", row.get("failed_sends", 0)),
            cpu_text(row["cpu_seconds"], events, cores, row["seconds"]),
        ]
        for row in [*ours, *refs]
    ]
    out = [
        "## 2. Pipeline throughput",
        "",
        f"{events:,} HR events (audience `topic:hr`, no per-user preference lookup) are published to a fresh local "
        "bus (`local.bus.LocalBus`, the project's topology, SQLite) and drained. Every variant reads the same bus and "
        "sends to the same sink.",
        "",
        "- **ours, single-message function**: the app's own `dispatch_hr_event`, run by the dev host's Service Bus "
        "trigger (`local.devhost.servicebus.LocalBusTrigger`: peek-lock receive, invoke with a real "
        "`func.ServiceBusMessage`, complete) with `maxConcurrentCalls` = "
        + ", ".join(str(row["concurrency"]) for row in singles)
        + ", on the services the app builds (`shared.composition.wiring.build_services`: one NH client, one Tables "
        "client on Azurite). Per event: claim in the delivery log (one insert-if-absent), one template send, the "
        "decision ledger's rows (upserts), record the outcome (one etag-conditional replace); these four writes are "
        "signed REST requests made without the SDK (`shared/adapters/tables/row_writer.py`).",
        '- **ours, batch function**: the same pipeline behind a batch trigger (`cardinality="many"`, defined in '
        "`bench/pipeline.py` over `bench.batch_dispatch.deliver_many`; measured, not deployed: docs/architecture.md "
        "says why), run by the same dev host trigger one batch at a time, as the Service Bus extension runs batch "
        "functions, at maxMessageBatchSize "
        + ", ".join(str(row["batch_size"]) for row in batches)
        + ". Per batch: one delivery-log insert transaction per partition, one template send per event "
        f"({BATCH_SENDS} at a time), the outcomes recorded in etag-conditional transactions while the batch still "
        "sends; the transactions are signed `$batch` requests made by the same row writer.",
        "- **reference pattern** (`bench/reference.py`): the consumer of Microsoft's enterprise push sample, "
        "implemented faithfully — one message at a time from the same local bus: receive, put the body into a fixed "
        "WNS toast by string replacement, send it as a native Windows notification through the NH REST API with a "
        "plain synchronous httpx call, complete. Two variants: a new connection per send (`httpx.post`, as the brief "
        "describes the sample) and one kept-alive `httpx.Client` (as the .NET SDK's pooled HttpClient would); the "
        "goals are judged against the kept-alive one. No delivery log, no templates, no dedup: it does less per event. "
        "The sample's `async void` send is awaited here before Complete, so a failed send is not completed silently.",
        "",
        table(
            ["variant", "shape", "events/s", "seconds", "NH sends counted", "failed", "CPU ms per event by process"],
            variants,
        ),
        "",
        "![pipeline](bench-pipeline.png)",
        "",
    ]
    latency = result.get("with_latency")
    if latency:
        out += _pipeline_latency(latency, sink_ms)
    out += _pipeline_time(result, ours, events, cores)
    return out


def shape(row: dict[str, Any]) -> str:
    if row.get("batch_size"):
        return f"batch {row['batch_size']}"
    return f"concurrency {row['concurrency']}"


def _pipeline_latency(latency: dict[str, Any], sink_ms: float | None) -> list[str]:
    measured = [latency.get("single"), latency["ours"], latency["reference"]]
    rows = [
        [row["variant"], shape(row), row["per_second"], row["seconds"], row["nh_sends"]]
        for row in measured
        if row is not None
    ]
    on_loopback = (
        f"on loopback the sink took {sink_ms:.2f} ms per send (benchmark 1's count)"
        if sink_ms is not None
        else "on loopback the sink answers without a network between"
    )
    shapes = ", ".join(f"{row['variant']} at {shape(row)}" for row in measured if row is not None)
    return [
        f"Our two shapes and the faster reference variant again, {latency['events']:,} events, with the sink "
        "answering every send after "
        f"{latency['latency_ms']:.0f} ms (the emulator's latency fault). This is a model, not a measurement of Azure: "
        f"{on_loopback}, while a Function App reaches Notification Hubs, Tables and Service Bus over the network. "
        f"The reference loop waits for each answer in turn; the rows are {shapes}.",
        "",
        table(["variant", "shape", "events/s", "seconds", "NH sends counted"], rows),
        "",
    ]


def _pipeline_time(result: dict[str, Any], ours: list[dict[str, Any]], events: int, cores: int) -> list[str]:
    out: list[str] = []
    for row in ours:
        stages = row.get("stage_ms_per_event")
        if not stages:
            continue
        per_event_ms = 1000 * row["seconds"] / events
        stage_rows = [[name, ms, f"{100 * ms / per_event_ms:.0f}%"] for name, ms in stages.items()]
        overlap = (
            f" (calls overlap: {BATCH_SENDS} sends are in flight at once, so the shares may add up to more than 100%)"
        )
        out += [
            f"Where the time goes, {row['variant']} ({shape(row)}, {per_event_ms:.2f} ms of wall time per event): "
            "wall time of each awaited port call per event, measured by wrapping the ports"
            + (overlap if row.get("batch_size") else "")
            + ":",
            "",
            table(["stage", "ms per event", "share of wall time"], stage_rows),
            "",
        ]
    profile = result["profile"]
    components = profile.get("profile_by_component", {})
    total = sum(components.values()) or 1.0
    component_rows = [
        [name, seconds, f"{100 * seconds / total:.0f}%"]
        for name, seconds in components.items()
        if seconds / total >= 0.005
    ]
    busy = "; ".join(
        f"{row['variant']} at {shape(row)}: {busy_share(row['cpu_seconds'], cores, row['seconds']):.0%} of "
        f"{cores} cores' time"
        for row in [*ours, *result["reference"]]
    )
    tables_share = 100 * sum(v for k, v in components.items() if "Tables" in k or "azure-data-tables" in k) / total
    out += [
        f"Where the CPU goes in the app's single-message function (pyinstrument, {shape(profile)}, "
        f"{profile['events']:,} events, "
        f"{profile['per_second']:,.1f} events/s under the profiler; self time of the benchmark process grouped by "
        "component; the full tree is in `bench/results/profile-pipeline*.txt`):",
        "",
        table(["component", "seconds", "share"], component_rows),
        "",
        f"How busy the machine was, per row: {busy}. Per event our functions do what the reference does (one "
        "receive, one send, one complete) plus two delivery-log writes (single conditional requests) and the "
        "decision ledger's upserts (two for a broadcast), all four signed REST requests made without the SDK; "
        f"the Tables requests (the row writer and its signed requests, aiohttp, the SDK and the Tables adapters) "
        f"add up to "
        f"{tables_share:.0f}% of the function process's CPU above. The batch "
        "shape claims and records a batch with one Tables transaction per partition, whose multipart bodies the "
        "row writer frames itself (`shared/adapters/tables/row_batch.py`; the Tables SDK builds and parses them "
        "with the standard library's email package).",
        "",
    ]
    return out
