"""The NH target of the benchmarks: the project's NH emulator (sink mode or full fan-out), quiet, with counters.

``python -m bench.nh_target --port N [--sink] [--https --tls-dir D] [--state-file F] [--hub H]`` serves the
emulator's own app (``local.nh_emulator.create_app``) under uvicorn without access logging, behind a middleware
that counts NH requests and the time the emulator spends answering sends. ``GET /_bench/counters`` reads them
(plus the deliveries the fan-out made), ``POST /_bench/forget`` drops recorded deliveries and notifications so a
long run against a large audience keeps its memory bounded.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import Message, Receive, Scope, Send

from local.nh_emulator.app import create_app
from local.nh_emulator.config import EmulatorConfig
from local.nh_emulator.context import Emulator
from local.nh_emulator.tls import write_certificates

__all__ = ["CountingApp", "main"]


class CountingApp:
    """ASGI middleware: counts requests to the hub (sends, installations) and the seconds spent on sends."""

    def __init__(self, inner: Any, emulator: Emulator) -> None:
        self._inner = inner
        self._emulator = emulator
        self._hub_prefix = f"/{emulator.config.hub}/"
        self.counters: dict[str, float] = {"requests": 0, "sends": 0, "installations": 0, "send_seconds": 0.0}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._inner(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/_bench/"):
            await self._local(scope, send)
            return
        if not path.startswith(self._hub_prefix):
            await self._inner(scope, receive, send)
            return
        kind = "sends" if "/messages" in path else "installations" if "/installations/" in path else "other"
        started = time.perf_counter()
        try:
            await self._inner(scope, receive, send)
        finally:
            self.counters["requests"] += 1
            if kind in self.counters:
                self.counters[kind] += 1
            if kind == "sends":
                self.counters["send_seconds"] += time.perf_counter() - started

    async def _local(self, scope: Scope, send: Send) -> None:
        state = self._emulator.state
        body = json.dumps({**self.counters, "deliveries": len(state.deliveries)}).encode()
        if scope["method"] == "POST" and scope["path"] == "/_bench/forget":
            state.deliveries.clear()
            state.notifications.clear()
        start: Message = {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
        await send(start)
        await send({"type": "http.response.body", "body": body})


def build(config: EmulatorConfig, port: int) -> uvicorn.Server:
    """A uvicorn server for the counting emulator on 127.0.0.1:port (TLS when ``config.https``)."""
    tls = write_certificates(config.tls_dir) if config.https else None
    app = create_app(config)
    counting = CountingApp(app, app.state.emulator)
    return uvicorn.Server(
        uvicorn.Config(
            counting,
            host="127.0.0.1",
            port=port,
            lifespan="on",
            log_level="warning",
            access_log=False,
            ssl_certfile=str(tls.cert_file) if tls else None,
            ssl_keyfile=str(tls.key_file) if tls else None,
        )
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m bench.nh_target", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hub", default="bench")
    parser.add_argument("--sink", action="store_true")
    parser.add_argument("--https", action="store_true")
    parser.add_argument("--tls-dir", type=Path)
    parser.add_argument("--state-file", type=Path)
    args = parser.parse_args(argv)
    config = EmulatorConfig(
        hub=args.hub, sink=args.sink, https=args.https, tls_dir=args.tls_dir, state_file=args.state_file
    )
    build(config, args.port).run()


if __name__ == "__main__":
    main()
