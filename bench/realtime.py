"""``python -m bench.realtime [--quick]``: real-time delivery figures, runnable alone (also a section of ``python -m
bench``).

1. Latency, one event at a time through the whole local stack (dev host, local bus, Azurite, NH emulator, SignalR
   stand-in): LoB event posted to /api/events -> in-app message received by Microsoft's official client (connected
   through the app's /api/negotiate), against LoB event -> push recorded in the NH emulator's device inbox (the
   same event type for a user without a connection). p50/p99 in ms.
2. Connections: how many WebSocket connections the stand-in holds on this machine with the official client's
   protocol (negotiate, WebSocket, JSON hub protocol handshake, 15 s pings), in steps; at each step the stand-in's
   memory and the time one broadcast takes to reach every connection.
Writes bench/results/realtime[-quick].json; ``python -m bench --render`` puts it in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench import machine
from bench.procs import azurite, child, free_port, http_ready, python_module
from bench.realtime_connections import hold_connections
from local.nh_emulator.config import FULL_RULE_NAME, WELL_KNOWN_FULL_KEY, connection_string
from local.signalr.config import connection_string as signalr_connection_string
from tests.support.listener import listening
from tests.support.notifications import notification_of

__all__ = ["RESULTS", "render", "run"]

RESULTS = Path(__file__).resolve().parent / "results"
HUB = "bench-realtime"
RS = "\x1e"


def _approval(user: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/lob/finance",
        "type": "finance.budget_approval.requested",
        "datacontenttype": "application/json",
        "data": {
            "requestId": "BR-1", "approverId": user, "requesterId": "jorge", "requesterName": "Jorge Ruiz",
            "amount": "1234.50", "currency": "EUR", "purpose": "Team offsite",
        },
    }  # fmt: skip


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
        "max_ms": round(1000 * ordered[-1], 1),
    }


@contextmanager
def _stack(workdir: Path, tables: str) -> Iterator[dict[str, Any]]:
    nh_port, signalr_port, api_port = free_port(), free_port(), free_port()
    nh = f"http://127.0.0.1:{nh_port}/"
    with ExitStack() as stack:
        emulator = stack.enter_context(
            child("NH emulator", python_module("local.nh_emulator", "--port", str(nh_port), "--hub", HUB),
                  http_ready(f"{nh}_emulator/health"), workdir / "nh.log")
        )  # fmt: skip
        signalr = stack.enter_context(
            child("SignalR stand-in", python_module("local.signalr", "--port", str(signalr_port)),
                  http_ready(f"http://127.0.0.1:{signalr_port}/_signalr/health"), workdir / "signalr.log")
        )  # fmt: skip
        env = {
            "AUTH_MODE": "dev",
            "PUSH_NH_CONNECTION_STRING": connection_string(nh, FULL_RULE_NAME, WELL_KNOWN_FULL_KEY),
            "PUSH_NH_HUB_NAME": HUB,
            "PUSH_TABLES_CONNECTION_STRING": tables,
            "ServiceBusConnection": "local",
            "LOB_SIMULATOR_ENABLED": "false",
            "LOB_SIMULATOR_SCHEDULE": "0 0 0 1 1 *",
            "PUSH_SIGNALR_CONNECTION_STRING": signalr_connection_string("127.0.0.1", signalr_port),
        }
        host = stack.enter_context(
            child("dev host", python_module("local.devhost", "--port", str(api_port), "--state-dir",
                  str(workdir / "devhost")), http_ready(f"http://127.0.0.1:{api_port}/admin/host/status"),
                  workdir / "devhost.log", env)
        )  # fmt: skip
        yield {
            "api": f"http://127.0.0.1:{api_port}/api",
            "nh": nh,
            "signalr": f"http://127.0.0.1:{signalr_port}",
            "signalr_port": signalr_port,
            "signalr_process": signalr,
            "processes": {"NH emulator": emulator, "SignalR stand-in": signalr, "dev host": host},
        }


def _publish(http: httpx.Client, api: str, event: dict[str, Any]) -> float:
    started = time.time()
    response = http.post(
        f"{api}/events",
        headers={"X-Dev-User": "erp", "X-Dev-Roles": "lob.publisher", "Content-Type": "application/cloudevents+json"},
        content=json.dumps(event),
    )
    response.raise_for_status()
    return started


def _latencies(stack: dict[str, Any], events: int) -> dict[str, Any]:
    api, nh = stack["api"], stack["nh"]
    suffix = uuid.uuid4().hex[:6]
    open_user, closed_user = f"open{suffix}", f"closed{suffix}"
    inapp: list[float] = []
    push: list[float] = []
    with httpx.Client(timeout=30) as http:
        for user in (open_user, closed_user):
            body = {"platform": "apns", "pushChannel": uuid.uuid4().hex * 2, "language": "de-DE"}
            http.put(f"{api}/installations/{user}-phone", headers={"X-Dev-User": user}, json=body).raise_for_status()
        for warm_up in range(3):  # first calls pay imports, table creation and connection set-up
            _publish(http, api, _approval(closed_user))
            _wait_inbox(http, nh, f"{closed_user}-phone", warm_up + 1)
        with listening(api, user=open_user) as app:
            for _ in range(events):
                event = _approval(open_user)
                notification = notification_of(event)
                started = _publish(http, api, event)
                while True:
                    line = app.next_event(timeout=30)
                    if line["event"] == "message" and line["arguments"][0]["id"] == notification:
                        inapp.append(line["at"] / 1000 - started)
                        break
                http.post(f"{api}/me/notifications/{notification}/seen", headers={"X-Dev-User": open_user})
        for index in range(events):
            started = _publish(http, api, _approval(closed_user))
            delivered = _wait_inbox(http, nh, f"{closed_user}-phone", 3 + index + 1)
            push.append(delivered[-1]["receivedAt"] - started)
    return {"events": events, "inapp": _percentiles(inapp), "push": _percentiles(push)}


def _wait_inbox(http: httpx.Client, nh: str, installation: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = list(http.get(f"{nh}_emulator/inbox/{installation}").json())
        if len(found) >= count:
            return found
        time.sleep(0.005)
    raise TimeoutError(f"{installation} did not get push number {count}")


def run(workdir: Path, tables: str, *, quick: bool) -> dict[str, Any]:
    """Both measurements on one fresh stack (Azurite given)."""
    events = 20 if quick else 200
    steps = [100, 250] if quick else [500, 1000, 2000, 4000]
    with _stack(workdir, tables) as stack:
        latency = _latencies(stack, events)
        print(f"  in-app p50 {latency['inapp']['p50_ms']} ms p99 {latency['inapp']['p99_ms']} ms; "
              f"push p50 {latency['push']['p50_ms']} ms p99 {latency['push']['p99_ms']} ms")  # fmt: skip
        connections = asyncio.run(hold_connections(stack, steps))
    return {"latency": latency, "connections": connections, "machine": machine.describe(), "quick": quick}


def render(result: dict[str, Any]) -> list[str]:
    """The docs/benchmarks.md section."""
    latency, m = result["latency"], result["machine"]
    rows = [
        [name, row["count"], row["p50_ms"], row["p99_ms"], row["max_ms"]]
        for name, row in (("event -> in-app message (official client)", latency["inapp"]),
                          ("event -> push in the emulator's device inbox", latency["push"]))
    ]  # fmt: skip
    steps = [
        [r["target"], r["held"], r["opened_per_second"], r["stand_in_rss_mib"], r["broadcast_reached"],
         r["broadcast_ms_to_all"], r["error"] or ""]
        for r in result["connections"]
    ]  # fmt: skip
    table = _table(["path", "events", "p50 ms", "p99 ms", "max ms"], rows)
    connections = _table(
        ["connections asked", "held", "opened/s", "stand-in RSS MiB", "broadcast reached", "broadcast ms to all",
         "error"], steps,
    )  # fmt: skip
    return [
        "## 5. Real-time delivery (`python -m bench.realtime`)",
        "",
        " ".join(
            [
                f"Run {m['date']} on {m['nproc']} cores, load average {' '.join(m['load_average'])} at the start",
                "(other work shared the machine; read the tails with it),",
                f"{'quick' if result['quick'] else 'full'} sizes, one event at a time through the whole local stack:",
                "`POST /api/events` -> local bus -> push function -> presence check (HEAD users/{user} on the SignalR",
                "stand-in) -> inbox row (Azurite) -> fallback scheduled -> REST send -> the stand-in -> Microsoft's",
                "official client (Node, connected through the app's `/api/negotiate`). The push row is the same event",
                "type for a user without a connection: presence says no, the push goes to the NH emulator, and the",
                "time is the emulator's record of the device receiving it.",
            ]
        ),
        "",
        table,
        "",
        "Connections held by the stand-in: clients speak the official client's protocol (negotiate, WebSocket, "
        "JSON hub protocol handshake, pings) from one Python process on the same 2 cores; at each step one "
        "broadcast (`POST /api/hubs/notifications/:send`) is timed until every connection has it.",
        "",
        connections,
        "",
        "Reading it: the in-app path skips Notification Hubs entirely, so it reaches an open app faster than the push "
        "reaches the emulator's device inbox (which includes NH's template rendering and fan-out); both tails are "
        "the shared machine's. The last step is where the run stopped, not the stand-in's ceiling: every step held "
        "all it was asked to, and the clients run in one Python process on the same two cores as the stand-in. "
        "Azure's own limit is per unit (1,000 concurrent connections per Standard unit, docs/operations.md).",
        "",
    ]


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.realtime", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="push-bench-realtime-") as directory:
        workdir = Path(directory)
        with azurite(workdir) as (_process, tables):
            result = run(workdir, tables, quick=args.quick)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / ("realtime-quick.json" if args.quick else "realtime.json")
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}; `python -m bench --render` puts it in docs/benchmarks.md")


if __name__ == "__main__":
    main()
