"""Trace context and log correlation at the entry points, the metric history behind the console's charts, and the
failure causes the NH gateway reports. OpenTelemetry's own SDK objects, nothing mocked."""

from __future__ import annotations

import logging

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider

from shared.adapters.metrics_history import MetricsHistory
from shared.adapters.nh_gateway import failure_cause
from shared.composition import correlation
from shared.domain.decisions import FailureCause
from shared.notification_hubs.errors import (
    NhAuthenticationError,
    NhForbiddenError,
    NhInvalidRequestError,
    NhNotFoundError,
    NhThrottledError,
    NhTransientError,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture(autouse=True)
def _sdk_tracer() -> None:
    """tests/conftest.py installs OpenTelemetry's SDK tracer for the session; without it no span has an id."""
    assert isinstance(trace.get_tracer_provider(), TracerProvider)


class TestInvocationSpans:
    def test_a_message_with_a_diagnostic_id_continues_its_trace(self):
        with correlation.invocation("deliver hr", {"Diagnostic-Id": PARENT}, event_id="e1", kind="consumer"):
            assert correlation.current_trace_id() == TRACE_ID
            assert correlation.trace_headers()["traceparent"].startswith(f"00-{TRACE_ID}-")
            assert correlation.trace_headers()["traceparent"] != PARENT  # the span's own id, not the parent's

    def test_a_traceparent_header_is_read_whatever_its_case(self):
        with correlation.invocation("POST post_event", {"TraceParent": PARENT}, event_id=None, kind="server"):
            assert correlation.current_trace_id() == TRACE_ID

    def test_without_a_traceparent_a_new_trace_starts_and_outside_a_span_there_is_none(self):
        assert correlation.current_trace_id() is None
        with correlation.invocation("deliver hr", {"traceparent": "garbage"}, event_id="e1"):
            started = correlation.current_trace_id()
        assert started is not None
        assert started != TRACE_ID

    def test_a_nested_span_without_a_carrier_stays_in_the_outer_trace(self):
        with (
            correlation.invocation("POST post_event", {"traceparent": PARENT}, event_id=None, kind="server"),
            correlation.invocation("publish hr", {}, event_id="e1", kind="producer"),
        ):
            assert correlation.current_trace_id() == TRACE_ID

    def test_the_message_properties_carry_the_trace_as_diagnostic_id_and_traceparent(self):
        with correlation.invocation("publish hr", {"traceparent": PARENT}, event_id="e1", kind="producer"):
            properties = correlation.trace_properties()
        assert properties["Diagnostic-Id"] == properties["traceparent"]
        assert properties["traceparent"].split("-")[1] == TRACE_ID
        assert correlation.trace_properties() == {}


class TestLogCorrelation:
    def test_every_log_line_of_an_invocation_carries_the_event_id_and_the_trace_id(self, caplog):
        logger = logging.getLogger("shared.usecases.delivery")
        with caplog.at_level(logging.INFO):
            with correlation.invocation("deliver hr", {"traceparent": PARENT}, event_id="evt-42", kind="consumer"):
                logger.info("sent")
                correlation.bind_event_id("evt-42")
                logging.getLogger("somewhere.else").warning("also inside")
            logger.info("after")
        inside, also, after = caplog.records
        assert (inside.event_id, inside.trace_id) == ("evt-42", TRACE_ID)
        assert (also.event_id, also.trace_id) == ("evt-42", TRACE_ID)
        assert (after.event_id, after.trace_id) == ("-", "-")


class TestMetricsHistory:
    def test_counts_become_per_minute_increments_split_by_attributes(self):
        history = MetricsHistory()
        reader = PeriodicExportingMetricReader(history, export_interval_millis=3_600_000)
        provider = MeterProvider(metric_readers=[reader])
        counter = provider.get_meter("test").create_counter("push.decisions")
        counter.add(2, {"outcome": "sent"})
        counter.add(1, {"outcome": "suppressed"})
        reader.collect()
        counter.add(3, {"outcome": "sent"})
        reader.collect()
        series = history.series(["push.decisions", "push.nh.sends"], minutes=5)
        by_outcome = {s["attributes"]["outcome"]: s["values"] for s in series["metrics"]["push.decisions"]}
        assert len(series["minutes"]) == 5
        assert {outcome: len(values) for outcome, values in by_outcome.items()} == {"sent": 5, "suppressed": 5}
        # both collections fall in the last minute or two (a test may straddle a minute boundary)
        assert {outcome: sum(values) for outcome, values in by_outcome.items()} == {"sent": 5, "suppressed": 1}
        assert by_outcome["sent"][:3] == [0, 0, 0]
        assert series["metrics"]["push.nh.sends"] == []
        provider.shutdown()

    def test_a_histogram_gives_its_count_and_sum(self):
        history = MetricsHistory()
        reader = PeriodicExportingMetricReader(history, export_interval_millis=3_600_000)
        provider = MeterProvider(metric_readers=[reader])
        histogram = provider.get_meter("test").create_histogram("push.event_to_nh_accepted")
        histogram.record(0.5)
        histogram.record(1.5)
        reader.collect()
        series = history.series(["push.event_to_nh_accepted.count", "push.event_to_nh_accepted.sum"], minutes=2)
        assert sum(series["metrics"]["push.event_to_nh_accepted.count"][0]["values"]) == 2
        assert sum(series["metrics"]["push.event_to_nh_accepted.sum"][0]["values"]) == 2.0
        provider.shutdown()


class TestFailureCauses:
    @pytest.mark.parametrize(
        ("error", "cause"),
        [
            (NhThrottledError("429", status_code=429, retry_after=2), FailureCause.THROTTLED),
            (NhAuthenticationError("401", status_code=401), FailureCause.AUTH),
            (NhForbiddenError("403", status_code=403), FailureCause.AUTH),
            (NhNotFoundError("404", status_code=404), FailureCause.NOT_FOUND),
            (NhTransientError("503", status_code=503), FailureCause.UNAVAILABLE),
            (NhTransientError("408", status_code=408), FailureCause.TIMEOUT),
            (NhInvalidRequestError("400", status_code=400, detail="bad payload"), FailureCause.BAD_REQUEST),
            (NhInvalidRequestError("400", status_code=400, detail="Invalid PushChannel"), FailureCause.BAD_CHANNEL),
        ],
    )
    def test_each_nh_error_has_its_cause(self, error, cause):
        assert failure_cause(error) is cause

    def test_a_timed_out_request_is_a_timeout(self):
        error = NhTransientError("send failed: ReadTimeout")
        error.__cause__ = httpx.ReadTimeout("read timed out")
        assert failure_cause(error) is FailureCause.TIMEOUT
