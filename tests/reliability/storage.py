"""An Azurite table service on disk that a test can stop and start again on the same port (a storage outage)."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.azurite import azurite_table_command, connection_string, free_port

__all__ = ["RestartableAzurite", "restartable_azurite"]

_START_DEADLINE = 30.0


class RestartableAzurite:
    """``azurite-table`` persisting to ``location``; ``stop`` and ``start`` keep the port and the data."""

    def __init__(self, location: Path, port: int) -> None:
        self.location = location
        self.port = port
        self.log = location / "azurite.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        return connection_string(self.port)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the process and wait until it listens. Raises RuntimeError when it exits or never listens."""
        self.location.mkdir(parents=True, exist_ok=True)
        command = azurite_table_command(self.port, "--location", str(self.location))
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(command, cwd=self.location, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + _START_DEADLINE
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"azurite-table exited with {self._process.returncode}: {self.log.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.1)
        raise RuntimeError(f"azurite-table did not listen on 127.0.0.1:{self.port} within {_START_DEADLINE:.0f} s")

    def stop(self) -> None:
        """SIGINT, on which Azurite saves its database (SIGTERM would lose it); SIGKILL after 10 s."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def restartable_azurite(location: Path) -> Iterator[RestartableAzurite]:
    """A started RestartableAzurite on a free port, stopped (by its PID) at exit."""
    azurite = RestartableAzurite(location, free_port())
    azurite.start()
    try:
        yield azurite
    finally:
        azurite.stop()
