"""Azurite's table service for tests: start it from the project's pinned npm package, or reuse a running one."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from azure.data.tables.aio import TableServiceClient

__all__ = [
    "ACCOUNT_KEY",
    "ACCOUNT_NAME",
    "REUSE_ENV",
    "azurite_tables",
    "connection_string",
    "free_port",
    "table_service",
]

# Azurite's well-known development account (public, documented by Microsoft for the emulator).
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
REUSE_ENV = "PUSH_TEST_AZURITE_TABLES_CONNECTION"
_ROOT = Path(__file__).resolve().parents[2]
_AZURITE_TABLE = _ROOT / "node_modules" / ".bin" / "azurite-table"
_START_DEADLINE = 30.0


def connection_string(port: int, host: str = "127.0.0.1") -> str:
    """The connection string of the development account on a table endpoint at ``host:port``."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"TableEndpoint=http://{host}:{port}/{ACCOUNT_NAME};"
    )


def azurite_table_command(port: int, *extra: str) -> list[str]:
    """Azurite's table service on 127.0.0.1:``port``, in memory unless ``extra`` says otherwise, no telemetry."""
    persistence = [] if any(arg.startswith("--location") for arg in extra) else ["--inMemoryPersistence"]
    return [
        str(_AZURITE_TABLE),
        "--tableHost",
        "127.0.0.1",
        "--tablePort",
        str(port),
        *persistence,
        "--skipApiVersionCheck",
        "--disableTelemetry",
        "--silent",
        *extra,
    ]


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PORT = 10_000


def _ports_below_ephemeral() -> range:
    """Ports the kernel never hands out as the local end of an outgoing connection."""
    try:
        low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32_768
    return range(_LOWEST_PORT, max(low, _LOWEST_PORT + 1_000))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago, below the kernel's ephemeral range.

    A port the kernel picked for a listener (bind to 0) comes from the ephemeral range, where any process's next
    outgoing connection may take it before the server that was handed it binds it ("address already in use").
    """
    candidates = _ports_below_ephemeral()
    for _ in range(100):
        port = random.choice(candidates)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port found in {candidates.start}-{candidates.stop - 1}")


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + _START_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"azurite-table exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"azurite-table did not listen on 127.0.0.1:{port} within {_START_DEADLINE:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def azurite_tables() -> Iterator[str]:
    """Yield a connection string to Azurite's table service.

    Reuses the one named by $PUSH_TEST_AZURITE_TABLES_CONNECTION when set; otherwise starts ``azurite-table`` in
    memory on a free loopback port (telemetry off) and stops that process, by its PID, on the way out.
    """
    reuse = os.environ.get(REUSE_ENV)
    if reuse:
        yield reuse
        return
    if not _AZURITE_TABLE.exists():
        raise RuntimeError(f"{_AZURITE_TABLE} is missing: run npm ci in the project root")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="azurite-tables-") as workdir:
        log_path = Path(workdir) / "azurite.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                azurite_table_command(port),
                cwd=workdir,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_until_listening(process, port, log_path)
                yield connection_string(port)
            finally:
                _stop(process)


@asynccontextmanager
async def table_service(conn_str: str, prefix: str) -> AsyncIterator[TableServiceClient]:
    """A TableServiceClient on ``conn_str`` that deletes every table named ``prefix...`` when the block ends."""
    service = TableServiceClient.from_connection_string(conn_str)
    try:
        yield service
    finally:
        try:
            names = [table.name async for table in service.list_tables() if table.name.startswith(prefix)]
            for name in names:
                await service.delete_table(name)
        finally:
            await service.close()
