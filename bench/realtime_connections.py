"""How many connections the SignalR stand-in holds: clients speaking the official client's protocol (negotiate,
WebSocket, JSON hub protocol handshake, pings) opened in steps, one timed broadcast per step."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
from websockets.asyncio.client import ClientConnection, connect

from bench.procs import Child
from local.signalr.config import WELL_KNOWN_ACCESS_KEY

__all__ = ["hold_connections"]

RS = "\x1e"


class _Clients:
    """WebSocket clients speaking the official client's protocol, each with a reader that notes broadcasts."""

    def __init__(self, base: str, port: int) -> None:
        self.base, self.port = base, port
        self.sockets: list[ClientConnection] = []
        self.readers: list[asyncio.Task[None]] = []
        self.received: dict[str, list[float]] = {}

    async def open(self, http: httpx.AsyncClient, index: int) -> None:
        claims = {"aud": "http://127.0.0.1/client/?hub=notifications", "exp": int(time.time()) + 3600}
        token = jwt.encode({**claims, "asrs.s.uid": f"u{index}"}, WELL_KNOWN_ACCESS_KEY.encode(), algorithm="HS256")
        for attempt in range(3):  # a pooled connection the server just closed (keep-alive timeout) fails once
            try:
                answer = await http.post(
                    f"{self.base}/client/negotiate?hub=notifications&negotiateVersion=1",
                    headers={"Authorization": f"Bearer {token}"},
                )
                break
            except httpx.TransportError:
                if attempt == 2:
                    raise
        answer.raise_for_status()
        url = (
            f"ws://127.0.0.1:{self.port}/client/?hub=notifications&id={answer.json()['connectionToken']}"
            f"&access_token={token}"
        )
        socket = await connect(url, max_queue=None, ping_interval=None)
        await socket.send('{"protocol":"json","version":1}' + RS)
        if await socket.recv() != "{}" + RS:
            raise RuntimeError("handshake refused")
        self.sockets.append(socket)
        self.readers.append(asyncio.create_task(self._read(socket)))

    async def _read(self, socket: ClientConnection) -> None:
        async for frame in socket:
            for part in str(frame).split(RS):
                if part and '"type":1' in part:
                    key = json.loads(part)["arguments"][0]
                    self.received.setdefault(key, []).append(time.perf_counter())

    async def ping_all(self) -> None:
        await asyncio.gather(*(s.send('{"type":6}' + RS) for s in self.sockets), return_exceptions=True)

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*(s.close() for s in self.sockets), return_exceptions=True)


def _rss_mib(process: Child) -> float:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def hold_connections(stack: dict[str, Any], steps: list[int]) -> list[dict[str, Any]]:
    base, process = stack["signalr"], stack["signalr_process"]
    clients = _Clients(base, stack["signalr_port"])
    rows: list[dict[str, Any]] = []
    # Shorter than uvicorn's 5 s keep-alive timeout, so the client never reuses a connection the server closed.
    limits = httpx.Limits(max_connections=50, keepalive_expiry=2.0)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        try:
            for target in steps:
                started, cpu = time.perf_counter(), process.cpu()
                opened_before = len(clients.sockets)
                error = None
                while len(clients.sockets) < target and error is None:
                    batch = range(len(clients.sockets), min(target, len(clients.sockets) + 100))
                    outcomes = await asyncio.gather(*(clients.open(http, i) for i in batch), return_exceptions=True)
                    failures = [o for o in outcomes if isinstance(o, BaseException)]
                    if failures:
                        error = f"{type(failures[0]).__name__}: {failures[0]}"
                    await clients.ping_all()
                open_seconds = time.perf_counter() - started
                key = f"step-{target}"
                url = f"{base}/api/hubs/notifications/:send"
                token = jwt.encode({"aud": url, "exp": int(time.time()) + 60}, WELL_KNOWN_ACCESS_KEY.encode(), "HS256")
                sent_at = time.perf_counter()
                answer = await http.post(
                    url, params={"api-version": "2022-06-01"}, headers={"Authorization": f"Bearer {token}"},
                    json={"target": "notification", "arguments": [key]},
                )  # fmt: skip
                answer.raise_for_status()
                for _ in range(6000):  # at most a minute
                    if len(clients.received.get(key, [])) >= len(clients.sockets):
                        break
                    await asyncio.sleep(0.01)
                arrived = clients.received.get(key, [])
                held = len((await http.get(f"{base}/_signalr/connections")).json())
                rows.append(
                    {
                        "target": target,
                        "held": held,
                        "opened_per_second": round((len(clients.sockets) - opened_before) / open_seconds, 1),
                        "stand_in_rss_mib": _rss_mib(process),
                        "stand_in_cpu_s_opening": round(process.cpu() - cpu, 2),
                        "broadcast_reached": len(arrived),
                        "broadcast_ms_to_all": round(1000 * (max(arrived) - sent_at), 1) if arrived else None,
                        "error": error,
                    }
                )
                print(
                    f"  connections {target:>5}: held {held}, broadcast to all in {rows[-1]['broadcast_ms_to_all']} ms"
                )
                if error is not None or held < target:
                    break
        finally:
            await clients.close()
    return rows
