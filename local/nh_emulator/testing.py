"""Run the emulator on a free loopback port inside a test (uvicorn in a thread), and stop it afterwards."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from local.nh_emulator.config import FULL_RULE_NAME, WELL_KNOWN_FULL_KEY, EmulatorConfig
from local.nh_emulator.server import build_server
from local.nh_emulator.tls import TlsFiles
from shared.notification_hubs.sas import sas_token

__all__ = ["RunningEmulator", "authorization", "running_emulator", "serving"]

_START_TIMEOUT = 10.0


@dataclass(frozen=True)
class RunningEmulator:
    """A started emulator: its base URL (``http(s)://127.0.0.1:{port}/``) and TLS files when https is on."""

    base_url: str
    port: int
    tls: TlsFiles | None


@contextlib.contextmanager
def serving(config: EmulatorConfig | None = None) -> Iterator[RunningEmulator]:
    """Start the emulator on a free 127.0.0.1 port; stop it (even on failure) when the block ends.

    Raises RuntimeError when the server does not start within 10 seconds.
    """
    config = config or EmulatorConfig()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])
    server, tls = build_server(config, "127.0.0.1", port, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="nh-emulator", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the NH emulator did not start")
            time.sleep(0.01)
        scheme = "https" if config.https else "http"
        yield RunningEmulator(f"{scheme}://127.0.0.1:{port}/", port, tls)
    finally:
        server.should_exit = True
        thread.join(_START_TIMEOUT)
        listener.close()


@contextlib.contextmanager
def running_emulator(config: EmulatorConfig | None = None) -> Iterator[str]:
    """Start the emulator on a free 127.0.0.1 port and yield its base URL (ends with ``/``)."""
    with serving(config) as running:
        yield running.base_url


def authorization(
    audience: str, key_name: str = FULL_RULE_NAME, key: str = WELL_KNOWN_FULL_KEY, *, lifetime: int = 600
) -> dict[str, str]:
    """An Authorization header for ``audience`` (e.g. the base URL), valid for ``lifetime`` seconds."""
    return {"Authorization": sas_token(audience, key_name, key, int(time.time()) + lifetime)}
