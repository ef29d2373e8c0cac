"""The metrics port: what the pipeline counts (OpenTelemetry instruments in ``shared.adapters.telemetry``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from shared.domain.decisions import Decision

__all__ = ["NULL_METRICS", "MetricsSeries", "NullMetrics", "PipelineMetrics"]


class PipelineMetrics(Protocol):
    """Counters and histograms of the event pipeline. Never raises: metrics must not fail a delivery."""

    def event_received(self, event_type: str) -> None:
        """An event was read off its subscription (and parsed: ``event_type`` is a catalog type)."""
        ...

    def decision(self, decision: Decision) -> None:
        """A decision was made (counted by outcome, reason and channel)."""
        ...

    def push_accepted(self, event_type: str, latency_seconds: float) -> None:
        """Notification Hubs accepted a send ``latency_seconds`` after the event occurred."""
        ...

    def dead_lettered(self, kind: str, reason: str) -> None:
        """A message left the pipeline for an operator: ``kind`` is ``quarantine`` or ``deadletter``."""
        ...


class NullMetrics:
    """Counts nothing (use cases built without telemetry, unit tests that do not look at metrics)."""

    def event_received(self, event_type: str) -> None:
        return None

    def decision(self, decision: Decision) -> None:
        return None

    def push_accepted(self, event_type: str, latency_seconds: float) -> None:
        return None

    def dead_lettered(self, kind: str, reason: str) -> None:
        return None


NULL_METRICS = NullMetrics()


class MetricsSeries(Protocol):
    """Recent metrics of this process, for the operator console's charts."""

    def series(self, names: Sequence[str], *, minutes: int = 60, now: float | None = None) -> dict[str, Any]:
        """Per-minute increments: ``{"minutes": [epoch seconds...], "metrics": {name: [{"attributes", "values"}]}}``."""
        ...
