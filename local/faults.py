"""Fault injection shared by the local stand-ins (the NH emulator, the SignalR stand-in): the active rules and a
seeded random source that picks the one firing for a request, so a failing run can be replayed with its seed."""

from __future__ import annotations

import random
from collections.abc import Collection
from typing import Generic, Protocol, TypeVar

__all__ = ["FaultInjector", "Rule", "check_rate_and_latency"]


class Rule(Protocol):
    """What the injector needs of a rule: where it applies (``"*"``: everywhere), how often, how many times."""

    rate: float
    times: int | None
    """Stop after this many injections (None: forever)."""
    fired: int
    """How many requests this rule has hit so far."""

    @property
    def where(self) -> str: ...


RuleT = TypeVar("RuleT", bound=Rule)


def check_rate_and_latency(rate: float, latency: float) -> None:
    """Raises ValueError for a rate outside [0, 1] or a negative latency."""
    if not 0.0 <= rate <= 1.0 or latency < 0:
        raise ValueError("rate must be within [0, 1] and latency >= 0")


class FaultInjector(Generic[RuleT]):
    """Holds the active rules and a seeded random source, so a failing run can be replayed."""

    def __init__(self) -> None:
        self.rules: list[RuleT] = []
        self._random = random.Random()
        self.seed: int | None = None

    def configure(self, rules: list[RuleT], seed: int | None) -> None:
        """Replace the rules."""
        self.rules = rules
        self.seed = seed
        self._random = random.Random(seed)

    def clear(self) -> None:
        """Remove every rule."""
        self.rules = []

    def pick(self, labels: Collection[str]) -> RuleT | None:
        """The first rule for one of ``labels`` that fires for this request, if any (counting down ``times``)."""
        for rule in self.rules:
            exhausted = rule.times is not None and rule.times <= 0
            if rule.where in labels and not exhausted and self._random.random() < rule.rate:
                if rule.times is not None:
                    rule.times -= 1
                rule.fired += 1
                return rule
        return None
