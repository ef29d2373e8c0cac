"""Benchmark 1: template sends per second to one local NH sink, from our client, two published libraries, and wrk."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.target import HUB, Target
from shared.notification_hubs.client import NotificationHubsClient
from shared.notification_hubs.models import template_notification
from shared.notification_hubs.sas import sas_token

CONCURRENCY = (1, 16, 64)
TAGS = "(topic:hr) && alert"
# The properties one HR event sends (CONTRACTS §D): every language's title and body plus the event fields.
PROPERTIES = {
    "title_en": "New colleague",
    "body_en": "Anna Müller joined Payments",
    "title_de": "Neue Kollegin",
    "body_de": "Anna Müller ist jetzt in Payments",
    "title_es": "Nueva compañera",
    "body_es": "Anna Müller se unió a Payments",
    "eventId": "0d9d6f7e-61c4-4a49-b0a4-3c6f6f0b8a11",
    "eventType": "hr.employee.joined",
    "deepLink": "enterprisepush://events/0d9d6f7e-61c4-4a49-b0a4-3c6f6f0b8a11",
    "category": "hr",
}


def _result(client: str, concurrency: int, done: int, errors: int, seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "client": client,
        "concurrency": concurrency,
        "sends": done,
        "errors": errors,
        "seconds": round(seconds, 3),
        "per_second": round(done / seconds, 1) if seconds > 0 else 0.0,
        **extra,
    }


async def _ours(target: Target, concurrency: int, warmup: float, duration: float) -> dict[str, Any]:
    """Our NotificationHubsClient as the app builds it (its own httpx.AsyncClient), ``concurrency`` tasks."""
    notification = template_notification(PROPERTIES)
    done = errors = every = 0
    async with NotificationHubsClient(target.connection_string, HUB) as client:
        loop_start = time.perf_counter()
        measure_from = loop_start + warmup
        measure_to = measure_from + duration
        cpu_start = time.process_time()

        async def worker() -> None:
            nonlocal done, errors, every
            while time.perf_counter() < measure_to:
                try:
                    await client.send(notification, tag_expression=TAGS)
                except Exception:
                    errors += 1
                    continue
                every += 1
                if time.perf_counter() >= measure_from:
                    done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu = time.process_time() - cpu_start
    # The client's own CPU (this process; the sink runs in its own) per send, warm-up included.
    cpu_us = round(1_000_000 * cpu / every, 1) if every else None
    return _result("ours (async, pooled)", concurrency, done, errors, duration, client_cpu_us_per_send=cpu_us)


def _threaded(
    name: str, call: Callable[[], object], concurrency: int, warmup: float, duration: float
) -> dict[str, Any]:
    """``call`` in a loop: sequentially (1) or from a thread pool of ``concurrency`` workers."""
    counts = {"done": 0, "errors": 0}
    lock = threading.Lock()
    measure_from = time.perf_counter() + warmup
    measure_to = measure_from + duration

    def worker() -> None:
        done = errors = 0
        while time.perf_counter() < measure_to:
            try:
                call()
            except Exception:
                errors += 1
                continue
            if time.perf_counter() >= measure_from:
                done += 1
        with lock:
            counts["done"] += done
            counts["errors"] += errors

    if concurrency == 1:
        worker()
    else:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for future in [pool.submit(worker) for _ in range(concurrency)]:
                future.result()
    mode = "sequential" if concurrency == 1 else "thread pool"
    return _result(f"{name} ({mode})", concurrency, counts["done"], counts["errors"], duration)


def _panevo(target: Target) -> Callable[[], object]:
    """notificationhubs-rest-python as its README (Microsoft's Python tutorial) shows: one hub object, requests."""
    from notificationhubs_rest_python.NotificationHub import AzureNotificationHub  # type: ignore[import-untyped]

    hub = AzureNotificationHub(target.connection_string, HUB)
    return lambda: hub.send_template_notification(PROPERTIES, tags=TAGS)


def _unofficial(target: Target) -> tuple[Callable[[], object], Callable[[], None]]:
    """azure-notification-hub-unofficial as its README shows: one NotificationHubsClient (one httpx.Client)."""
    from azure_notification_hub import (  # type: ignore[import-untyped]
        NotificationHubsClient as UnofficialClient,
    )
    from azure_notification_hub import create_template_notification

    client = UnofficialClient(target.connection_string, HUB)
    notification = create_template_notification(PROPERTIES)
    return lambda: client.send_notification(notification, tag_expression=TAGS), client.close


def _wrk(target: Target, concurrency: int, duration: float, workdir: Path, wrk: str = "wrk") -> dict[str, Any]:
    """The same request from wrk (one thread, ``concurrency`` kept-alive connections): the sink's ceiling."""
    audience = f"https://127.0.0.1:{target.port}/{HUB}"
    token = sas_token(audience, *_key(), int(time.time()) + 3600)
    body = template_notification(PROPERTIES).body
    script = workdir / "send.lua"
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = [==[{body}]==]",
        'wrk.headers["Content-Type"] = "application/json;charset=utf-8"',
        'wrk.headers["ServiceBusNotification-Format"] = "template"',
        f'wrk.headers["ServiceBusNotification-Tags"] = "{TAGS}"',
        f'wrk.headers["Authorization"] = "{token}"',
        'wrk.headers["x-ms-version"] = "2020-06"',
    ]
    script.write_text("\n".join(lines) + "\n")
    url = f"{audience}/messages?api-version=2020-06"
    seconds = max(1, round(duration))
    command = [wrk, "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    elapsed = re.search(r"requests in ([\d.]+)(m?s)", output)
    assert elapsed is not None
    measured = float(elapsed.group(1)) / (1000 if elapsed.group(2) == "ms" else 1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = int(non2xx.group(1)) if non2xx else 0
    return _result("wrk (ceiling)", concurrency, requests - errors, errors, measured)


def _key() -> tuple[str, str]:
    from local.nh_emulator.config import FULL_RULE_NAME, WELL_KNOWN_FULL_KEY

    return FULL_RULE_NAME, WELL_KNOWN_FULL_KEY


def run(target: Target, workdir: Path, *, quick: bool, wrk: str | None = "wrk") -> dict[str, Any]:
    """Every client at every concurrency against ``target`` (a sink); one row per (client, concurrency).

    ``wrk`` is the wrk executable; without it the ceiling rows are left out (``skipped`` says why).
    """
    warmup, duration = (0.3, 1.0) if quick else (1.0, 5.0)
    os.environ["SSL_CERT_FILE"] = str(target.ca_file)  # httpx (ours, unofficial) trusts the sink's CA
    os.environ["REQUESTS_CA_BUNDLE"] = str(target.ca_file)  # requests (notificationhubs-rest-python)
    rows: list[dict[str, Any]] = []
    for concurrency in CONCURRENCY:
        rows.append(asyncio.run(_ours(target, concurrency, warmup, duration)))
        rows.append(_threaded("notificationhubs-rest-python", _panevo(target), concurrency, warmup, duration))
        send, close = _unofficial(target)
        try:
            rows.append(_threaded("azure-notification-hub-unofficial", send, concurrency, warmup, duration))
        finally:
            close()
        if wrk is not None:
            rows.append(_wrk(target, concurrency, duration, workdir, wrk))
        for row in rows[-4 if wrk else -3 :]:
            print(f"  sends c={concurrency:<3} {row['client']:<50} {row['per_second']:>8.1f}/s errors={row['errors']}")
    sent = target.counters()
    result = {"rows": rows, "warmup_seconds": warmup, "seconds": duration, "target_counters": sent}
    if wrk is None:
        result["skipped"] = {"wrk (ceiling)": "wrk is not installed"}
    return result
