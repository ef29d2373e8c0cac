"""The external tools a benchmark run needs, installed when it can be done safely, otherwise named as missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence

__all__ = ["ensure_wrk"]

Run = Callable[[Sequence[str]], int]


def _run(command: Sequence[str]) -> int:
    return subprocess.call(list(command), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def ensure_wrk(
    *,
    which: Callable[[str], str | None] = shutil.which,
    is_root: Callable[[], bool] = lambda: os.geteuid() == 0,
    run: Run = _run,
    say: Callable[[str], None] = print,
) -> str | None:
    """The path of wrk (benchmark 1's load tool), installing Debian's package with apt-get when it is missing and
    this process runs as root; None, after saying what is missing and what is skipped, when it cannot be had."""
    found = which("wrk")
    if found:
        return found
    if is_root() and which("apt-get"):
        say("wrk is missing: installing the Debian package (apt-get install -y wrk)")
        installed = run(["apt-get", "install", "-y", "--no-install-recommends", "wrk"]) == 0
        if not installed and run(["apt-get", "update"]) == 0:
            installed = run(["apt-get", "install", "-y", "--no-install-recommends", "wrk"]) == 0
        found = which("wrk") if installed else None
        if found:
            return found
        say("wrk could not be installed with apt-get.")
    else:
        say("wrk is missing, and this process cannot install it (needs root and apt-get).")
    say("Benchmark 1 skips its wrk (ceiling) rows; install wrk (Debian: apt-get install wrk) to measure them.")
    return None
