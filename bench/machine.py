"""Describe the machine and software a benchmark run used."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench.procs import ROOT

PACKAGES = (
    "httpx",
    "httpcore",
    "anyio",
    "uvicorn",
    "starlette",
    "azure-data-tables",
    "azure-core",
    "aiohttp",
    "azure-functions",
    "notificationhubs-rest-python",
    "azure-notification-hub-unofficial",
    "requests",
    "pyinstrument",
    "matplotlib",
)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _wrk_version() -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "wrk"], capture_output=True, text=True, check=False)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "not installed"


def _azurite_version() -> str:
    try:
        return str(json.loads((ROOT / "node_modules" / "azurite" / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "unknown"


def describe() -> dict[str, object]:
    """nproc, CPU model, memory, OS, Python, date, load average and the versions that matter here."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        metadata.version("sniffio")
        versions["sniffio"] = metadata.version("sniffio")
    except metadata.PackageNotFoundError:
        versions["sniffio"] = "not installed"
    versions["wrk (Debian)"] = _wrk_version()
    versions["azurite (npm)"] = _azurite_version()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average": Path("/proc/loadavg").read_text().split()[:3],
        "versions": versions,
    }
