"""An OpenTelemetry metric exporter that keeps the last hour of this process's metrics for the operator console.

A ``PeriodicExportingMetricReader`` hands it cumulative points every ``interval``; it keeps one snapshot per export
and answers per-minute increments for the console's charts. In Azure the same instruments also go to Application
Insights, which is where the fleet-wide view lives (docs/operations.md); this history is one instance's view.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics import Counter, Histogram
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
)

__all__ = ["MetricsHistory", "Snapshot"]

# (metric name, sorted attribute items) -> cumulative sum (counters) or (count, sum) (histograms)
Snapshot = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class MetricsHistory(MetricExporter):
    """Keeps cumulative snapshots for ``keep_seconds``; ``series`` turns them into per-minute increments."""

    def __init__(self, keep_seconds: float = 3600.0) -> None:
        super().__init__(
            preferred_temporality={
                Counter: AggregationTemporality.CUMULATIVE,
                Histogram: AggregationTemporality.CUMULATIVE,
            }
        )
        self._keep = keep_seconds
        self._snapshots: deque[tuple[float, Snapshot]] = deque()
        self._lock = threading.Lock()
        self._trimmed = False  # once old snapshots were dropped, a value before the first one is not 0

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        snapshot: Snapshot = {}
        for resource_metrics in metrics_data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point in metric.data.data_points:
                        attributes = tuple(sorted((str(k), str(v)) for k, v in (point.attributes or {}).items()))
                        if isinstance(point, NumberDataPoint):
                            snapshot[(metric.name, attributes)] = float(point.value)
                        elif isinstance(point, HistogramDataPoint):
                            snapshot[(metric.name + ".count", attributes)] = float(point.count)
                            snapshot[(metric.name + ".sum", attributes)] = float(point.sum)
        now = time.time()
        with self._lock:
            self._snapshots.append((now, snapshot))
            while self._snapshots and self._snapshots[0][0] < now - self._keep:
                self._snapshots.popleft()
                self._trimmed = True
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None

    def series(self, names: Sequence[str], *, minutes: int = 60, now: float | None = None) -> dict[str, Any]:
        """Per-minute increments of each metric in ``names`` (histograms: ``name.count`` / ``name.sum``) over the
        last ``minutes``, split by attributes: ``{"minutes": [epoch...], "metrics": {name: [{"attributes": {...},
        "values": [...]}]}}``. A minute without a snapshot repeats the last cumulative value (an increment of 0)."""
        end = time.time() if now is None else now
        first_minute = int(end // 60) - minutes + 1
        edges = [(first_minute + i) * 60 for i in range(minutes + 1)]
        with self._lock:
            snapshots, trimmed = list(self._snapshots), self._trimmed
        result: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        keys = {key for _, snapshot in snapshots for key in snapshot if key[0] in result}
        for key in sorted(keys):
            baseline = snapshots[0][1].get(key, 0.0) if trimmed else 0.0
            cumulative = [_value_at(snapshots, key, edge, baseline) for edge in edges]
            increments = [max(0.0, later - earlier) for earlier, later in itertools.pairwise(cumulative)]
            result[key[0]].append({"attributes": dict(key[1]), "values": increments})
        return {"minutes": edges[1:], "metrics": result}


def _value_at(
    snapshots: list[tuple[float, Snapshot]], key: tuple[str, tuple[tuple[str, str], ...]], at: float, baseline: float
) -> float:
    """The cumulative value of ``key`` in the last snapshot taken at or before ``at`` (``baseline`` before any)."""
    value = baseline
    for taken, snapshot in snapshots:
        if taken > at:
            break
        value = snapshot.get(key, value)
    return value
