"""`python -m local.run` (make run): Azurite, the NH emulator and the dev host together, stopped together."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

from local.nh_emulator.config import BACKEND_RULE_NAME
from local.settings import load_local_settings

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE = 10.0
READY_TIMEOUT = 60.0


@dataclass
class Child:
    name: str
    args: list[str]
    ready_url: str | None
    port: int
    process: subprocess.Popen[bytes] | None = None


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _ready(child: Child) -> bool:
    if child.ready_url is None:
        return _port_open(child.port)
    try:
        return httpx.get(child.ready_url, timeout=1.0).status_code < 500
    except httpx.HTTPError:
        return False


def _start(child: Child, env: dict[str, str]) -> None:
    # A session of its own: Ctrl-C reaches only this supervisor, which then stops children in order.
    child.process = subprocess.Popen(child.args, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + READY_TIMEOUT
    while not _ready(child):
        if child.process.poll() is not None:
            raise RuntimeError(f"{child.name} exited with code {child.process.returncode} while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{child.name} did not answer within {READY_TIMEOUT:.0f} s")
        time.sleep(0.1)


def _stop(children: list[Child]) -> None:
    running = [c for c in reversed(children) if c.process is not None and c.process.poll() is None]
    for child in running:
        assert child.process is not None
        child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for child in running:
        assert child.process is not None
        try:
            child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            print(f"{child.name} did not stop within {STOP_GRACE:.0f} s; killing it", flush=True)
            child.process.kill()
            child.process.wait()


class _Stop(Exception):
    pass


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def rights_warning(nh_connection_string: str) -> str | None:
    """A warning when the app would sign with another rule than the Listen+Send one it gets in Azure: an app change
    that needs Manage would then work on the laptop and fail in production."""
    if not nh_connection_string or f"SharedAccessKeyName={BACKEND_RULE_NAME};" in nh_connection_string:
        return None
    return (
        f"warning: PUSH_NH_CONNECTION_STRING does not use the emulator's {BACKEND_RULE_NAME} rule (Listen, Send), "
        "the rights the app has in Azure; see local.settings.json.example"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.run", description=__doc__)
    parser.add_argument("--port", type=int, default=None, help="dev host port (default: LocalHttpPort or 7071)")
    parser.add_argument("--nh-port", type=int, default=9099)
    parser.add_argument("--table-port", type=int, default=10002)
    parser.add_argument("--signalr-port", type=int, default=8888)
    args = parser.parse_args(argv)

    settings = load_local_settings(ROOT, os.environ)
    env = dict(os.environ)
    env.setdefault("LOB_SIMULATOR_ENABLED", "true")
    env.setdefault("PYTHONUNBUFFERED", "1")
    hub = env.get("PUSH_NH_HUB_NAME") or settings.values.get("PUSH_NH_HUB_NAME", "enterprise-push")
    port = args.port or settings.local_http_port or 7071
    warning = rights_warning(
        env.get("PUSH_NH_CONNECTION_STRING") or settings.values.get("PUSH_NH_CONNECTION_STRING", "")
    )
    if warning:
        print(warning, flush=True)
    state = ROOT / ".local"
    (state / "azurite").mkdir(parents=True, exist_ok=True)
    (state / "nh-emulator").mkdir(parents=True, exist_ok=True)
    children = [
        Child(
            "Azurite (tables)",
            [
                str(ROOT / "node_modules" / ".bin" / "azurite-table"),
                "--tableHost",
                "127.0.0.1",
                "--tablePort",
                str(args.table_port),
                "--location",
                str(state / "azurite"),
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--silent",
            ],
            None,
            args.table_port,
        ),
        Child(
            "Notification Hubs emulator",
            [
                sys.executable,
                "-m",
                "local.nh_emulator",
                "--port",
                str(args.nh_port),
                "--hub",
                hub,
                "--state-file",
                str(state / "nh-emulator" / "state.json"),
                "--app-api",
                f"http://127.0.0.1:{port}/api",
            ],
            f"http://127.0.0.1:{args.nh_port}/_emulator/health",
            args.nh_port,
        ),
        Child(
            "SignalR Service stand-in",
            [sys.executable, "-m", "local.signalr", "--port", str(args.signalr_port)],
            f"http://127.0.0.1:{args.signalr_port}/_signalr/health",
            args.signalr_port,
        ),
        Child(
            "dev host",
            [sys.executable, "-m", "local.devhost", "--port", str(port)],
            f"http://127.0.0.1:{port}/admin/host/status",
            port,
        ),
    ]
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    code = 0
    try:
        for child in children:
            if _port_open(child.port):
                print(f"port {child.port} is already in use; stop what holds it before starting {child.name}")
                return 1
            print(f"starting {child.name} ...", flush=True)
            _start(child, env)
        print(
            f"\nEnterprise Push is running.\n  API:    http://127.0.0.1:{port}/api\n"
            f"  Shop:   http://127.0.0.1:{port}/api/shop\n"
            f"  Phones: http://127.0.0.1:{args.nh_port}/\n"
            f"  SignalR: http://127.0.0.1:{args.signalr_port} (stand-in, hub notifications)\n  Press Ctrl-C to stop.\n",
            flush=True,
        )
        while True:
            for child in children:
                assert child.process is not None
                if child.process.poll() is not None:
                    print(f"{child.name} exited with code {child.process.returncode}; stopping everything")
                    code = child.process.returncode or 1
                    raise _Stop(child.name)
            time.sleep(0.2)
    except _Stop:
        pass
    except RuntimeError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop(children)
    return code


if __name__ == "__main__":
    sys.exit(main())
