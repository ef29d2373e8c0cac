"""Child processes of a benchmark run: start on loopback, wait until they answer, account CPU time, stop by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.azurite import free_port as free_port  # one port picker for the bench and the tests

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def own_cpu_seconds() -> float:
    """CPU seconds of this process, all threads."""
    return time.process_time()


@dataclass
class Child:
    """A started child process and its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu(self) -> float:
        """CPU seconds used so far (0 once it has exited)."""
        try:
            return cpu_seconds(self.popen.pid)
        except (OSError, IndexError):
            return 0.0

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s; only this child, by its PID."""
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5)


def http_ready(url: str, verify: str | bool = True) -> Callable[[], bool]:
    """A readiness check: ``url`` answers 200."""

    def check() -> bool:
        try:
            return httpx.get(url, timeout=1, verify=verify).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def port_ready(port: int) -> Callable[[], bool]:
    """A readiness check: something accepts TCP connections on 127.0.0.1:port."""

    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    return check


@contextmanager
def child(
    name: str, command: list[str], ready: Callable[[], bool], log: Path, env: dict[str, str] | None = None
) -> Iterator[Child]:
    """Start ``command`` in the project root, wait until ``ready()``; stop it when the block ends (even on error)."""
    with log.open("ab") as log_file:
        popen = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log_file, stderr=subprocess.STDOUT
        )
    started = Child(name, popen, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if popen.poll() is not None:
                raise RuntimeError(f"{name} exited with {popen.returncode}: {log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not become ready within {START_TIMEOUT:.0f} s ({log})")
            time.sleep(0.1)
        yield started
    finally:
        started.stop()


def python_module(module: str, *args: str) -> list[str]:
    """The command that runs ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


AZURITE_TABLE = ROOT / "node_modules" / ".bin" / "azurite-table"


@contextmanager
def azurite(workdir: Path) -> Iterator[tuple[Child, str]]:
    """Azurite's table service in memory on a free port: (the child, its connection string)."""
    from tests.support.azurite import azurite_table_command, connection_string

    port = free_port()
    command = azurite_table_command(port)
    with child("azurite-table", command, port_ready(port), workdir / "azurite.log") as process:
        yield process, connection_string(port)


def machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used since boot (user+nice+system+irq+softirq+steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


class CpuMeter:
    """CPU seconds used during a block by this process, named children, and everything else on the machine."""

    def __init__(self, children: dict[str, Child]) -> None:
        self._children = children
        self._start: dict[str, float] = {}
        self.used: dict[str, float] = {}
        self.wall = 0.0

    def __enter__(self) -> CpuMeter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._start = self._sample()
        self._wall = time.perf_counter()

    def stop(self) -> None:
        self.wall = time.perf_counter() - self._wall
        end = self._sample()
        self.used = {name: round(end[name] - self._start[name], 3) for name in end}
        mine = sum(value for name, value in self.used.items() if name != "machine")
        self.used["other processes"] = round(max(self.used.pop("machine") - mine, 0.0), 3)

    def _sample(self) -> dict[str, float]:
        sample = {"benchmark process": own_cpu_seconds(), "machine": machine_busy_seconds()}
        sample.update({name: process.cpu() for name, process in self._children.items()})
        return sample
