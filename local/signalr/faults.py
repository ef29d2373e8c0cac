"""Injected faults, like the NH emulator's: the service down (an HTTP status) or slow (latency), per surface."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
        if not 0.0 <= rule.rate <= 1.0 or rule.latency < 0:
            raise ValueError("rate must be within [0, 1] and latency >= 0")
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


class FaultInjector:
    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self._random = random.Random()

    def configure(self, rules: list[FaultRule], seed: int | None) -> None:
        self.rules = rules
        self._random = random.Random(seed)

    def clear(self) -> None:
        self.rules = []

    def pick(self, surface: str) -> FaultRule | None:
        """The rule that fires for a request on ``surface`` now, if any (counting down ``times``)."""
        for rule in self.rules:
            exhausted = rule.times is not None and rule.times <= 0
            if rule.surface in ("*", surface) and not exhausted and self._random.random() < rule.rate:
                if rule.times is not None:
                    rule.times -= 1
                return rule
        return None
