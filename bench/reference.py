"""The reference architecture's consumer, implemented faithfully: one message at a time, receive, build, send, complete.

Microsoft's enterprise push sample runs a continuous loop: ``message = subscription.Receive()``, put the message
body into a fixed WNS toast by string replacement, ``hub.SendWindowsNativeNotificationAsync(toast)``, then
``message.Complete()`` (``Abandon()`` on an exception). Here the same loop reads the same local bus as our
function, sends the same native WNS toast over the NH REST API with a plain synchronous httpx call, and completes.
Two deliberate differences, both in the reference's favour or neutral: the send is awaited before Complete (the
sample's ``async void`` send is not awaited, so its completion does not wait and its failures are lost), and the
payload is XML-escaped (the sample's plain replacement breaks on ``&`` or ``<``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import httpx

from bench.pipeline import SUBSCRIPTION, TOPIC, fill_bus
from bench.procs import CpuMeter
from bench.target import HUB, Target
from local.nh_emulator.config import FULL_RULE_NAME, WELL_KNOWN_FULL_KEY
from shared.notification_hubs.sas import sas_token

TOAST = '<toast><visual><binding template="ToastText01"><text id="1">{messagepayload}</text></binding></visual></toast>'


def _send_headers(audience: str) -> dict[str, str]:
    return {
        "Authorization": sas_token(audience, FULL_RULE_NAME, WELL_KNOWN_FULL_KEY, int(time.time()) + 1200),
        "Content-Type": "application/xml",
        "ServiceBusNotification-Format": "windows",
        "X-WNS-Type": "wns/toast",
        "x-ms-version": "2015-01",
    }


async def run_reference(
    target: Target, workdir: Path, *, count: int, seed: int, keep_alive: bool, meter_children: dict[str, Any]
) -> dict[str, Any]:
    """Drain ``count`` events one at a time. ``keep_alive``: one httpx.Client (as the .NET SDK pools its
    HttpClient) instead of a new connection per send (httpx.post, what the brief asks for)."""
    bus = await fill_bus(workdir / f"bus-reference-{keep_alive}-{seed}.sqlite3", count, seed)
    audience = f"https://127.0.0.1:{target.port}/{HUB}"
    url = f"{audience}/messages?api-version=2015-01"
    ca = str(target.ca_file)
    session = httpx.Client(verify=ca, timeout=30) if keep_alive else None
    done = failed = 0
    sent_before = target.counters()["sends"]
    try:
        with CpuMeter(meter_children) as meter:
            while True:
                message = await bus.receive(TOPIC, SUBSCRIPTION, max_wait=0.0)
                if message is None:
                    break
                toast = TOAST.replace("{messagepayload}", escape(message.body.decode("utf-8")))
                try:
                    # Blocking on purpose: the reference consumer is a synchronous loop.
                    if session is not None:
                        response = session.post(url, content=toast, headers=_send_headers(audience))
                    else:
                        response = httpx.post(url, content=toast, headers=_send_headers(audience), verify=ca)  # noqa: ASYNC210
                    response.raise_for_status()
                except httpx.HTTPError:
                    failed += 1
                    await bus.abandon(message.lock_token)
                    continue
                await bus.complete(message.lock_token)
                done += 1
    finally:
        if session is not None:
            session.close()
        bus.close()
    await asyncio.sleep(0)
    sent = target.counters()["sends"] - sent_before
    name = "reference pattern, kept-alive connection" if keep_alive else "reference pattern, new connection per send"
    return {
        "variant": name,
        "concurrency": 1,
        "events": count,
        "completed": done,
        "failed_sends": failed,
        "seconds": round(meter.wall, 3),
        "per_second": round(done / meter.wall, 1),
        "nh_sends": int(sent),
        "cpu_seconds": meter.used,
    }
