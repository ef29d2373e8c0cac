"""W3C trace context and log correlation for the entry points (HTTP routes, Service Bus triggers).

The OpenTelemetry API does the work: ``propagate.extract`` reads ``traceparent`` from a request's headers or a
message's application properties (``Diagnostic-Id`` as Service Bus' own SDKs write it, or ``traceparent``), a span
continues that trace, and ``propagate.inject`` writes it on the way out (Service Bus messages, NH requests). Every
log record carries ``event_id`` and ``trace_id`` (a log record factory reads them from the context), so every line
an invocation logs can be found by either.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

__all__ = [
    "bind_event_id",
    "current_trace_id",
    "install_log_correlation",
    "invocation",
    "trace_headers",
    "trace_properties",
]

_EVENT_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("event_id", default=None)
_tracer = trace.get_tracer("enterprise_push")
_installed = False

DIAGNOSTIC_ID = "Diagnostic-Id"
TRACEPARENT = "traceparent"


def current_trace_id() -> str | None:
    """The current trace's id as 32 hex digits, or None outside a span."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def bind_event_id(event_id: str | None) -> None:
    """Name the event the current invocation is about (once it is known) for every log line that follows."""
    _EVENT_ID.set(event_id)


def trace_headers() -> dict[str, str]:
    """The current context as W3C headers (``traceparent``, ``tracestate`` when set) for an outgoing request."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def trace_properties() -> dict[str, str]:
    """The current context as Service Bus application properties: ``traceparent`` and ``Diagnostic-Id``."""
    headers = trace_headers()
    parent = headers.get(TRACEPARENT)
    return {TRACEPARENT: parent, DIAGNOSTIC_ID: parent} if parent else {}


def _carrier(values: Mapping[str, str]) -> dict[str, str]:
    lowered = {key.lower(): value for key, value in values.items()}
    parent = lowered.get(TRACEPARENT) or lowered.get(DIAGNOSTIC_ID.lower())
    carrier = {TRACEPARENT: parent} if parent else {}
    if parent and "tracestate" in lowered:
        carrier["tracestate"] = lowered["tracestate"]
    return carrier


_KINDS = {
    "server": trace.SpanKind.SERVER,
    "consumer": trace.SpanKind.CONSUMER,
    "producer": trace.SpanKind.PRODUCER,
    "internal": trace.SpanKind.INTERNAL,
}


@contextmanager
def invocation(
    name: str, incoming: Mapping[str, str], *, event_id: str | None, kind: str = "internal", **attributes: Any
) -> Iterator[trace.Span]:
    """A span (``kind``: server, consumer, producer, internal) continuing the trace in ``incoming`` (headers or
    application properties) when it carries ``traceparent``/``Diagnostic-Id``, else a child of the current span (a
    new trace when there is none); ``event_id`` is bound for the log lines inside. When ``incoming`` decides the
    parent, a span already current (the Functions host's, where the worker propagates it) becomes a link."""
    carrier = _carrier(incoming)
    parent = propagate.extract(carrier, context=otel_context.Context()) if carrier else None
    current = trace.get_current_span().get_span_context()
    links = [trace.Link(current)] if parent is not None and current.is_valid else []
    token = _EVENT_ID.set(event_id if event_id is not None else _EVENT_ID.get())
    try:
        with _tracer.start_as_current_span(name, context=parent, kind=_KINDS[kind], links=links) as span:
            for key, value in attributes.items():
                if value is not None:
                    span.set_attribute(key, value)
            yield span
    finally:
        _EVENT_ID.reset(token)


def install_log_correlation() -> None:
    """Give every log record ``event_id`` and ``trace_id`` attributes (``-`` when there is none). Idempotent."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.event_id = _EVENT_ID.get() or "-"
        record.trace_id = current_trace_id() or "-"
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
