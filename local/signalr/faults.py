"""Injected faults, like the NH emulator's: the service down (an HTTP status) or slow (latency), per surface."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from local.faults import FaultInjector as SharedInjector
from local.faults import check_rate_and_latency

__all__ = ["SURFACES", "FaultInjector", "FaultRule", "surface_of"]

# "rest": the data-plane API the app calls; "client": negotiate and WebSockets; "*": both.
SURFACES = ("*", "rest", "client")
_STATUSES = (429, 500, 502, 503)


@dataclass
class FaultRule:
    """With probability ``rate``, on ``surface``: wait ``latency`` seconds, then answer ``status`` (if any)."""

    surface: str = "*"
    rate: float = 1.0
    status: int | None = None
    latency: float = 0.0
    times: int | None = None
    fired: int = 0

    @property
    def where(self) -> str:
        return self.surface

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultRule:
        """From the /_signalr/faults JSON. Raises ValueError on bad values."""
        rule = cls(
            surface=str(data.get("surface", "*")),
            rate=float(data.get("rate", 1.0)),
            status=int(data["status"]) if data.get("status") is not None else None,
            latency=float(data.get("latency", 0.0)),
            times=int(data["times"]) if data.get("times") is not None else None,
        )
        if rule.surface not in SURFACES:
            raise ValueError(f"surface must be one of {', '.join(SURFACES)}")
        if rule.status is not None and rule.status not in _STATUSES:
            raise ValueError(f"status must be one of {list(_STATUSES)}")
        check_rate_and_latency(rule.rate, rule.latency)
        if rule.status is None and rule.latency == 0:
            raise ValueError("a rule needs a status, a latency or both")
        return rule


def surface_of(path: str) -> str | None:
    """Which surface a request path belongs to; None for the stand-in's own /_signalr/ endpoints."""
    if path.startswith("/api/"):
        return "rest"
    if path.startswith("/client"):
        return "client"
    return None


# The stand-in's rules: local/faults.py picks the one firing for a request on a surface (labels {"*", surface}).
FaultInjector = SharedInjector[FaultRule]
