"""OpenTelemetry for the process, set up once when the services are first built.

In Azure (``APPLICATIONINSIGHTS_CONNECTION_STRING`` set) the Azure Monitor OpenTelemetry distro exports traces,
logs and metrics to Application Insights, with the managed identity (the resource has local auth off); host.json
sets ``"telemetryMode": "OpenTelemetry"`` so the Functions host speaks the same. Locally the plain SDK exports
spans as JSON lines to ``PUSH_TELEMETRY_FILE`` (when set; rotated, ``span_file``) and keeps metrics in memory for
the operator console.
Both keep that in-memory history, so the console's charts work everywhere (one instance's view in Azure).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from shared.composition.correlation import install_log_correlation
from shared.composition.settings import Settings
from shared.composition.span_file import SpanFileExporter

__all__ = ["EXPORT_INTERVAL_MS", "SERVICE_NAME", "configure_telemetry"]

logger = logging.getLogger(__name__)

SERVICE_NAME = "enterprise-push"
EXPORT_INTERVAL_MS = 5_000


_Exporter = TypeVar("_Exporter", bound=MetricExporter)


class _State:
    exporter: Any = None


_state = _State()


def configure_telemetry(settings: Settings, local_metrics: Callable[[], _Exporter]) -> _Exporter:
    """Set the global tracer and meter providers once per process, with ``local_metrics()`` as an in-process
    metric exporter besides whatever else exports; later calls return the exporter made the first time."""
    if _state.exporter is not None:
        exporter: _Exporter = _state.exporter
        return exporter
    install_log_correlation()
    history = local_metrics()
    reader = PeriodicExportingMetricReader(history, export_interval_millis=EXPORT_INTERVAL_MS)
    if settings.app_insights_connection_string:
        _configure_azure_monitor(settings, reader)
    else:
        _configure_local(settings, reader)
    _state.exporter = history
    return history


def _configure_azure_monitor(settings: Settings, reader: PeriodicExportingMetricReader) -> None:
    from azure.identity import ManagedIdentityCredential
    from azure.monitor.opentelemetry import configure_azure_monitor

    credential = (
        ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
        if settings.managed_identity_client_id
        else None
    )
    configure_azure_monitor(
        connection_string=settings.app_insights_connection_string,
        credential=credential,
        metric_readers=[reader],
        resource=Resource.create({"service.name": SERVICE_NAME}),
        enable_live_metrics=False,
    )
    logger.info("OpenTelemetry exports to Application Insights")


def _configure_local(settings: Settings, reader: PeriodicExportingMetricReader) -> None:
    resource = Resource.create({"service.name": SERVICE_NAME})
    tracer_provider = TracerProvider(resource=resource)
    if settings.telemetry_file:
        try:
            path = Path(settings.telemetry_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            exporter = SpanFileExporter(path)
        except OSError as exc:  # telemetry never stops the app: no span file then, the rest works
            logger.warning("spans are not written to %s: %s", settings.telemetry_file, exc)
        else:
            tracer_provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))
