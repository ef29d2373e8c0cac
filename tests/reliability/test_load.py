"""Load: concurrent clients register and refresh devices (PUT /installations) for a while; no errors, and Notification
Hubs (the emulator's record) holds every device as its last successful registration left it; latency percentiles
reported (figures only, never timed assertions)."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.reliability.report import BOOK
from tests.reliability.sizes import Sizes
from tests.support.stack import Stack

pytestmark = pytest.mark.reliability

_LANGUAGES = ("en-GB", "de-DE", "es-ES")


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    last_registered: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Installation id -> the body of its last PUT answered 200."""

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)


async def one_client(api: str, index: int, until: float, result: LoadResult) -> None:
    """One phone: register, then refresh (new channel or language, as an app does on start) until ``until``."""
    user = f"load{uuid.uuid4().hex[:8]}u{index}"
    installation = f"{user}-pixel"
    async with httpx.AsyncClient(timeout=30, headers={"X-Dev-User": user}) as client:
        turn = 0
        while time.monotonic() < until:
            body = {
                "platform": "fcmv1",
                "pushChannel": f"fcm_{user}_{turn % 3}_" + "A" * 40,
                "language": _LANGUAGES[turn % len(_LANGUAGES)],
                "interests": ["hr"] if turn % 2 else [],
            }
            started = time.perf_counter()
            try:
                response = await client.put(f"{api}/installations/{installation}", json=body)
            except httpx.HTTPError as exc:
                result.errors[type(exc).__name__] += 1
            else:
                result.latencies_ms.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    result.errors[f"HTTP {response.status_code}"] += 1
                else:
                    result.last_registered[installation] = body
            turn += 1


async def run_load(api: str, clients: int, seconds: float) -> LoadResult:
    result = LoadResult()
    until = time.monotonic() + seconds
    await asyncio.gather(*(one_client(api, index, until, result) for index in range(clients)))
    return result


class TestRegistrationLoad:
    async def test_concurrent_clients_register_and_refresh_devices_without_errors(self, stack: Stack, sizes: Sizes):
        started = time.monotonic()
        result = await run_load(stack.api, sizes.load_clients, sizes.load_seconds)
        elapsed = time.monotonic() - started
        requests = len(result.latencies_ms) + sum(n for k, n in result.errors.items() if not k.startswith("HTTP"))
        BOOK.add_row(
            "Registration load (PUT /installations)",
            {
                "clients": sizes.load_clients,
                "seconds": round(elapsed, 1),
                "requests": requests,
                "req/s": round(requests / elapsed, 1),
                "errors": sum(result.errors.values()),
                "p50 ms": result.percentile(0.50),
                "p95 ms": result.percentile(0.95),
                "p99 ms": result.percentile(0.99),
                "max ms": round(max(result.latencies_ms), 1),
                "mean ms": round(statistics.fmean(result.latencies_ms), 1),
            },
        )
        assert result.errors == Counter()
        assert requests >= sizes.load_clients
        assert len(result.last_registered) == sizes.load_clients
        async with httpx.AsyncClient(timeout=30) as http:
            installations = (await http.get(f"{stack.emulator}_emulator/installations")).json()
        held = {item["installationId"]: item for item in installations}
        stale = [
            installation
            for installation, body in result.last_registered.items()
            if installation not in held
            or held[installation]["pushChannel"] != body["pushChannel"]
            or f"lang:{body['language'][:2]}" not in held[installation]["tags"]
        ]
        assert stale == [], f"NH does not hold the last registration of {len(stale)} devices, e.g. {stale[:3]}"
