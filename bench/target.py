"""Start the NH target (bench.nh_target) as its own process and talk to its counters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.procs import Child, child, free_port, http_ready, python_module
from local.nh_emulator.config import FULL_RULE_NAME, WELL_KNOWN_FULL_KEY

HUB = "bench"


@dataclass(frozen=True)
class Target:
    """A running NH target: its process, port, CA file (https) and the connection string clients get."""

    process: Child
    port: int
    ca_file: Path

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/"

    @property
    def connection_string(self) -> str:
        # sb:// as the portal gives it; every client under test turns it into https://.
        return (
            f"Endpoint=sb://127.0.0.1:{self.port}/;SharedAccessKeyName={FULL_RULE_NAME};"
            f"SharedAccessKey={WELL_KNOWN_FULL_KEY}"
        )

    def counters(self, *, forget: bool = False) -> dict[str, float]:
        """The target's counters; ``forget`` also drops recorded deliveries (bounded memory)."""
        url = f"{self.base_url}_bench/{'forget' if forget else 'counters'}"
        with httpx.Client(verify=str(self.ca_file), timeout=60) as client:
            response = client.post(url) if forget else client.get(url)
        response.raise_for_status()
        return dict(response.json())

    def set_send_latency(self, seconds: float) -> None:
        """Make every send wait ``seconds`` before it is answered (the emulator's latency fault); 0 removes it."""
        url = f"{self.base_url}_emulator/faults"
        with httpx.Client(verify=str(self.ca_file), timeout=60) as client:
            if seconds > 0:
                rules = [{"route": "send", "rate": 1.0, "latency": seconds}]
                response = client.post(url, json={"seed": 1, "rules": rules})
            else:
                response = client.delete(url)
        response.raise_for_status()


@contextmanager
def nh_target(
    workdir: Path, *, sink: bool, name: str = "nh-target", state_file: Path | None = None
) -> Iterator[Target]:
    """Start the emulator (sink or full fan-out) over https on a free port; stop it when the block ends."""
    port = free_port()
    tls_dir = workdir / f"{name}-tls"
    args = ["--port", str(port), "--hub", HUB, "--https", "--tls-dir", str(tls_dir)]
    if sink:
        args.append("--sink")
    if state_file is not None:
        args += ["--state-file", str(state_file)]
    ca_file = tls_dir / "ca.pem"

    def ready() -> bool:
        return ca_file.exists() and http_ready(f"https://127.0.0.1:{port}/_emulator/health", str(ca_file))()

    with child(name, python_module("bench.nh_target", *args), ready, workdir / f"{name}.log") as process:
        yield Target(process, port, ca_file)
