"""Run the stand-in on a free loopback port inside a test (uvicorn in a thread), and stop it afterwards."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

from local.signalr.app import StandInApp, create_app
from local.signalr.config import StandInConfig, connection_string

__all__ = ["RunningStandIn", "serving"]

_START_TIMEOUT = 10.0


class RunningStandIn:
    def __init__(self, app: StandInApp, port: int) -> None:
        self.app = app
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.connection_string = connection_string("127.0.0.1", port, app.stand_in.config.access_key)


@contextlib.contextmanager
def serving(config: StandInConfig | None = None) -> Iterator[RunningStandIn]:
    """Start the stand-in on a free 127.0.0.1 port; stop it when the block ends. Raises RuntimeError."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])
    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="websockets-sansio", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="signalr", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the SignalR stand-in did not start")
            time.sleep(0.01)
        yield RunningStandIn(app, port)
    finally:
        server.should_exit = True
        thread.join(_START_TIMEOUT)
        listener.close()
