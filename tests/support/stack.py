"""The whole app as processes on loopback: the NH emulator and the dev host (with its local bus) on free ports,
wired to an Azurite table service. Used by the end-to-end tier; every process is stopped at exit, by PID."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from local.bus import LocalBus, load_topology
from local.nh_emulator.config import BACKEND_RULE_NAME, WELL_KNOWN_BACKEND_KEY, connection_string
from local.signalr.config import connection_string as signalr_connection_string
from shared.domain.channels import FALLBACK_SUBSCRIPTION, FALLBACK_TOPIC
from shared.domain.topics import TOPICS
from tests.support.azurite import free_port
from tests.support.services import PUBLISHER_SOURCES

ROOT = Path(__file__).resolve().parents[2]
HUB = "e2e"
START_TIMEOUT = 30.0
TOPOLOGY = ROOT / "infra" / "servicebus-topology.json"


def poll_until(check: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> bool:
    """Call ``check`` every ``interval`` seconds until it holds (True) or ``timeout`` passed (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def wait_for(check: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
    if not poll_until(check, timeout=timeout):
        raise TimeoutError(f"timed out waiting for {what}")


@dataclass
class Process:
    """One child process with its log file; ``ready_url`` answers 200 once it is up."""

    name: str
    command: list[str]
    ready_url: str
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.launch()
        self.wait_until_ready()

    def launch(self) -> None:
        with self.log.open("ab") as log:
            self.popen = subprocess.Popen(
                self.command, cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_until_ready(self) -> None:
        wait_for(self._answers, f"{self.name} ({self.log})")

    def _answers(self) -> bool:
        assert self.popen is not None
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.log.read_text()[-4000:]}")
        try:
            return httpx.get(self.ready_url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


@dataclass
class Stack:
    """URLs of the running app and a handle on each process. With several dev hosts (as several Function App
    instances) they share the local bus and the storage; ``api`` is the first one's."""

    api: str
    emulator: str
    emulator_process: Process
    devhosts: list[Process]
    state_dir: Path
    signalr: str = ""
    signalr_process: Process | None = None

    @property
    def devhost(self) -> Process:
        return self.devhosts[0]

    def restart_devhost(self, sig: signal.Signals = signal.SIGTERM) -> None:
        self.devhost.stop(sig)
        self.devhost.start()


def devhost_env(
    emulator_url: str, tables_connection: str, signalr_port: int | None = None, **overrides: str
) -> dict[str, str]:
    realtime = (
        {
            "PUSH_SIGNALR_CONNECTION_STRING": signalr_connection_string("127.0.0.1", signalr_port),
            "PUSH_CORS_ORIGINS": emulator_url.rstrip("/"),
            "PUSH_INAPP_FALLBACK_SECONDS": "3",
        }
        if signalr_port
        else {}
    )
    return {
        **realtime,
        "AUTH_MODE": "dev",
        "PUSH_NH_CONNECTION_STRING": connection_string(emulator_url, BACKEND_RULE_NAME, WELL_KNOWN_BACKEND_KEY),
        "PUSH_NH_HUB_NAME": HUB,
        "PUSH_TABLES_CONNECTION_STRING": tables_connection,
        "ServiceBusConnection": "local",
        "LOB_SIMULATOR_ENABLED": "false",
        "LOB_SIMULATOR_SCHEDULE": "0 0 0 1 1 *",
        "LOB_PUBLISHER_SOURCES": PUBLISHER_SOURCES,
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


@contextlib.contextmanager
def running_stack(
    tables_connection: str,
    workdir: Path,
    *,
    topology: Path | None = None,
    devhosts: int = 1,
    **env_overrides: str,
) -> Iterator[Stack]:
    """Start the emulator, the SignalR stand-in and ``devhosts`` dev hosts (sharing one local bus and the storage)
    as subprocesses; stop them all at exit, even when a test fails.

    ``topology`` replaces infra/servicebus-topology.json for the dev hosts' local bus (e.g. a shorter lock).
    """
    emulator_port, api_port, signalr_port = free_port(), free_port(), free_port()
    emulator_url = f"http://127.0.0.1:{emulator_port}/"
    signalr_url = f"http://127.0.0.1:{signalr_port}"
    state_dir = workdir / "devhost-state"
    emulator = Process(
        "NH emulator",
        [
            sys.executable, "-m", "local.nh_emulator", "--port", str(emulator_port), "--hub", HUB,
            "--app-api", f"http://127.0.0.1:{api_port}/api",
        ],
        f"{emulator_url}_emulator/health",
        workdir / "nh-emulator.log",
    )  # fmt: skip
    signalr = Process(
        "SignalR stand-in",
        [sys.executable, "-m", "local.signalr", "--port", str(signalr_port)],
        f"{signalr_url}/_signalr/health",
        workdir / "signalr.log",
    )
    hosts: list[Process] = []
    for index in range(devhosts):
        port = api_port if index == 0 else free_port()
        hosts.append(
            Process(
                "dev host" if index == 0 else f"dev host {index + 1}",
                [
                    sys.executable,
                    "-m",
                    "local.devhost",
                    "--port",
                    str(port),
                    "--state-dir",
                    str(state_dir),
                    *(["--topology", str(topology)] if topology else []),
                ],
                f"http://127.0.0.1:{port}/admin/host/status",
                workdir / ("devhost.log" if index == 0 else f"devhost-{index + 1}.log"),
                env=devhost_env(emulator_url, tables_connection, signalr_port, **env_overrides),
            )
        )
    try:
        # Launched together (each waits only for its own port to answer, and the dev host reaches the others
        # lazily), so their start-ups overlap.
        for process in (emulator, signalr, *hosts):
            process.launch()
        for process in (emulator, signalr, *hosts):
            process.wait_until_ready()
        yield Stack(f"http://127.0.0.1:{api_port}/api", emulator_url, emulator, hosts, state_dir, signalr_url, signalr)
    finally:
        for host in hosts:
            host.stop()
        signalr.stop()
        emulator.stop()


def poll(fetch: Callable[[], Any], until: Callable[[Any], bool], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Call ``fetch`` until ``until(result)`` holds; return the last result (the caller asserts on it)."""
    deadline = time.monotonic() + timeout
    result = fetch()
    while not until(result) and time.monotonic() < deadline:
        time.sleep(interval)
        result = fetch()
    return result


def pending_pushes(stack: Stack, topology: Path = TOPOLOGY) -> int:
    """Messages on the stack's bus that could still lead to a push: waiting or locked on a push subscription or on
    the in-app fallback's, or a fallback scheduled for later."""

    async def count() -> int:
        bus = LocalBus(stack.state_dir / "bus.sqlite3", load_topology(topology))
        try:
            active = [await bus.count_active(topic, "push") for topic in TOPICS]
            fallbacks = await bus.count_active(FALLBACK_TOPIC, FALLBACK_SUBSCRIPTION)
            return sum(active) + fallbacks + await bus.count_scheduled(FALLBACK_TOPIC)
        finally:
            bus.close()

    # In a thread of its own: the caller may be inside a running event loop (Playwright's sync API runs one).
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(lambda: asyncio.run(count())).result()


def settle(stack: Stack, timeout: float = 60.0, topology: Path = TOPOLOGY) -> None:
    """Wait until nothing on the bus can lead to a push any more (every delivery and every in-app fallback
    finished), before asserting that nothing else arrived: a wait for the cause, not for a guessed time."""
    assert poll_until(lambda: pending_pushes(stack, topology) == 0, timeout=timeout), "the bus never drained"
