"""Microsoft's official SignalR client as a test app: the Node listener in tests/support/node as a subprocess whose
JSON lines (connected, message, closed, stopped) are read with deadlines."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["Listener", "listening"]

SCRIPT = Path(__file__).resolve().parent / "node" / "signalr_listener.cjs"


class Listener:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip():
                self.lines.put(json.loads(line))

    def next_event(self, timeout: float = 15.0) -> dict[str, Any]:
        """The next line; raises queue.Empty after ``timeout`` seconds without one."""
        return self.lines.get(timeout=timeout)

    def next_message(self, timeout: float = 15.0) -> dict[str, Any]:
        """The first argument of the next invocation it receives."""
        while True:
            event = self.next_event(timeout)
            if event["event"] == "message":
                return dict(event["arguments"][0])
            if event["event"] in ("closed", "failed"):
                raise AssertionError(f"the client ended before a message arrived: {event}")

    def received_nothing(self, within: float) -> bool:
        try:
            event = self.lines.get(timeout=within)
        except queue.Empty:
            return True
        return event["event"] != "message"


@contextmanager
def listening(url: str, *, user: str | None = None, token: str | None = None, timeout: int = 120) -> Iterator[Listener]:
    """Connect the official client to ``url`` (the app's /api, or a client URL with ``token``); wait until it is
    connected; stop it (stdin closed, then killed if needed) at the end."""
    command = ["node", str(SCRIPT), "--url", url, "--timeout", str(timeout)]
    if user is not None:
        command += ["--header", f"X-Dev-User={user}"]
    if token is not None:
        command += ["--token", token]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    listener = Listener(process)
    try:
        first = listener.next_event(timeout=30)
        if first["event"] != "connected":
            raise AssertionError(f"the official client did not connect: {first}; {process.stderr.read()[-2000:]}")
        yield listener
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
