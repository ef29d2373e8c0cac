"""How big a reliability run is: a bounded default for CI, the full size through ``python -m tests.reliability``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["CI", "FULL", "Sizes"]


@dataclass(frozen=True)
class Sizes:
    """Every knob of a run; ``from_env`` reads RELIABILITY_* overrides on top of the CI defaults."""

    events: int = 300
    load_seconds: float = 10.0
    load_clients: int = 64
    api_examples: int = 20
    poison_examples: int = 60
    outage_seconds: float = 6.0
    orders: int = 100

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Sizes:
        """Raises ValueError when a RELIABILITY_* variable is not a number."""
        return cls(
            events=int(env.get("RELIABILITY_EVENTS", cls.events)),
            load_seconds=float(env.get("LOAD_SECONDS", cls.load_seconds)),
            load_clients=int(env.get("LOAD_CLIENTS", cls.load_clients)),
            api_examples=int(env.get("RELIABILITY_API_EXAMPLES", cls.api_examples)),
            poison_examples=int(env.get("RELIABILITY_POISON_EXAMPLES", cls.poison_examples)),
            outage_seconds=float(env.get("RELIABILITY_OUTAGE_SECONDS", cls.outage_seconds)),
            orders=int(env.get("RELIABILITY_ORDERS", cls.orders)),
        )

    def as_env(self) -> dict[str, str]:
        return {
            "RELIABILITY_EVENTS": str(self.events),
            "LOAD_SECONDS": str(self.load_seconds),
            "LOAD_CLIENTS": str(self.load_clients),
            "RELIABILITY_API_EXAMPLES": str(self.api_examples),
            "RELIABILITY_POISON_EXAMPLES": str(self.poison_examples),
            "RELIABILITY_OUTAGE_SECONDS": str(self.outage_seconds),
            "RELIABILITY_ORDERS": str(self.orders),
        }


CI = Sizes()
FULL = Sizes(events=5000, load_seconds=60.0, api_examples=300, poison_examples=1000, outage_seconds=15.0, orders=1000)
