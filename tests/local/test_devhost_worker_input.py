"""The dev host hands functions their trigger input the way the Functions host hands it to the Python worker, and
decodes it with azure.functions' own converters; a recorded invocation pins the Service Bus metadata's shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions.meta import Datum

from local.bus.peek_lock import ReceivedMessage
from local.devhost.functions import index_app
from local.devhost.servicebus import to_function_message, to_function_messages
from local.devhost.worker_input import (
    BrokerMessage,
    decode,
    http_input,
    service_bus_batch_input,
    service_bus_input,
    timer_input,
)
from shared.domain.errors import ConfigError

pytestmark = pytest.mark.local

RECORDED = json.loads((Path(__file__).parent / "devhost_fixtures" / "servicebus_invocation.json").read_text())
_CASES = {"string": "string", "json": "json", "bytes": "bytes"}


def recorded_datum(typed: dict[str, str]) -> Datum:
    ((case, value),) = typed.items()
    return Datum(value, _CASES[case])


def recorded_input() -> tuple[Datum, dict[str, Datum]]:
    metadata = {key: recorded_datum(value) for key, value in RECORDED["trigger_metadata"].items()}
    return recorded_datum(RECORDED["data"]), metadata


def the_recorded_message() -> BrokerMessage:
    """The message behind the recorded invocation, as the local bus would hold it."""
    return BrokerMessage(
        message_id="7d0c8f3e-6a1b-4c2d-9e8f-0a1b2c3d4e5f",
        body=RECORDED["data"]["string"].encode(),
        delivery_count=2,
        sequence_number=42,
        enqueued_time=datetime(2026, 11, 22, 10, 15, 30, 123456, tzinfo=UTC),
        lock_token="9b2e4c1a-3f5d-4e6b-8a7c-1d2e3f4a5b6c",
        content_type="application/cloudevents+json; charset=utf-8",
        subject="hr.employee.joined",
        application_properties={"type": "hr.employee.joined", "source": "/lob/hr"},
    )


def as_recorded(metadata: dict[str, Datum]) -> dict[str, dict[str, Any]]:
    return {key: {datum.type: datum.value} for key, datum in metadata.items()}


class TestServiceBusMetadata:
    def test_the_dev_host_builds_exactly_the_recorded_invocation(self):
        data, metadata = service_bus_input(the_recorded_message())
        assert {data.type: data.value} == RECORDED["data"]
        assert as_recorded(metadata) == RECORDED["trigger_metadata"]

    def test_the_library_decodes_the_recorded_invocation_as_the_app_reads_it(self):
        message = decode("serviceBusTrigger", *recorded_input())
        assert isinstance(message, func.ServiceBusMessage)
        expected = ("7d0c8f3e-6a1b-4c2d-9e8f-0a1b2c3d4e5f", 2, 42)
        assert (message.message_id, message.delivery_count, message.sequence_number) == expected
        assert message.application_properties == {"type": "hr.employee.joined", "source": "/lob/hr"}
        assert message.user_properties == message.application_properties
        assert (message.subject, message.label) == ("hr.employee.joined", "hr.employee.joined")
        assert message.content_type == "application/cloudevents+json; charset=utf-8"
        assert json.loads(message.get_body())["data"]["displayName"] == "Jana Novák"

    def test_times_arrive_without_zone_and_the_extension_sends_no_lock_expiry_or_ttl(self):
        """EnqueuedTimeUtc is DateTimeOffset.DateTime on the host: the library makes a naive datetime of it."""
        message = decode("serviceBusTrigger", *recorded_input())
        assert message.enqueued_time_utc == datetime(2026, 11, 22, 10, 15, 30, 123456)
        assert message.expires_at_utc == datetime(9999, 12, 31, 23, 59, 59, 999999)
        assert (message.locked_until, message.time_to_live, message.state) == (None, None, None)

    def test_a_body_that_is_not_utf8_arrives_with_replacement_characters_unless_the_binding_is_binary(self):
        broken = BrokerMessage("m", b"\xff{}", 1, 1, datetime.now(UTC), "t")
        assert decode("serviceBusTrigger", *service_bus_input(broken)).get_body() == "\ufffd{}".encode()
        assert decode("serviceBusTrigger", *service_bus_input(broken, binary=True)).get_body() == b"\xff{}"

    def test_a_local_bus_delivery_reaches_the_function_through_the_same_converter(self):
        received = ReceivedMessage(
            topic="hr",
            subscription="push",
            sequence_number=7,
            message_id="m-1",
            subject="hr.employee.joined",
            content_type="application/json",
            correlation_id=None,
            body=b"{}",
            application_properties={"type": "hr.employee.joined"},
            enqueued_time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            expires_at=datetime(2026, 1, 3, 3, 4, 5, tzinfo=UTC),
            time_to_live=timedelta(days=1),
            delivery_count=3,
            lock_token="tok",
            locked_until=datetime(2026, 1, 2, 3, 5, 5, tzinfo=UTC),
        )
        message = to_function_message(received)
        assert (message.message_id, message.delivery_count, message.lock_token) == ("m-1", 3, "tok")
        assert message.expires_at_utc == datetime(2026, 1, 3, 3, 4, 5)
        assert message.metadata is not None
        assert "CorrelationId" not in message.metadata

    def test_a_batch_gets_arrays_and_the_host_leaves_empty_strings_out_of_string_arrays(self):
        first = BrokerMessage("a", b"1", 1, 10, datetime.now(UTC), "ta", content_type="text/plain")
        second = BrokerMessage("b", b"2", 2, 11, datetime.now(UTC), "tb")
        data, metadata = service_bus_batch_input([first, second])
        assert data.type == "collection_string"
        assert metadata["SequenceNumberArray"].type == "collection_sint64"
        assert metadata["DeliveryCountArray"].value == "[1,2]"
        assert metadata["ContentTypeArray"].value.string == ["text/plain"]
        messages = decode("serviceBusTrigger", data, metadata)
        assert [(m.message_id, m.delivery_count, m.sequence_number) for m in messages] == [("a", 1, 10), ("b", 2, 11)]

    def test_a_local_bus_batch_decodes_to_one_message_per_delivery(self):
        now = datetime(2026, 1, 2, tzinfo=UTC)
        received = [
            ReceivedMessage("hr", "push", n, f"m{n}", None, None, None, b"{}", {}, now, None, None, 1, f"t{n}", now)
            for n in range(3)
        ]
        assert [m.message_id for m in to_function_messages(received)] == ["m0", "m1", "m2"]


class TestHttpInput:
    def request(self, **overrides: Any) -> func.HttpRequest:
        fields: dict[str, Any] = {
            "method": "POST",
            "url": "http://127.0.0.1:7071/api/events?a=1",
            "headers": [("Content-Type", "application/json"), ("X-Dev-User", "anna"), ("Accept", "a"), ("accept", "b")],
            "query": [("a", "1"), ("a", "2"), ("empty", "")],
            "route_params": {"installationId": "dev-1"},
            "body": b'{"x": 1}',
        }
        request: func.HttpRequest = decode("httpTrigger", http_input(**{**fields, **overrides}))
        return request

    def test_headers_are_lower_case_and_repeated_ones_joined_with_a_comma(self):
        headers = self.request().headers
        assert (headers["x-dev-user"], headers["accept"]) == ("anna", "a,b")

    def test_repeated_query_keys_are_joined_and_empty_values_left_out_as_the_host_does(self):
        assert dict(self.request().params) == {"a": "1,2"}

    def test_the_body_arrives_as_bytes_and_route_values_as_strings(self):
        request = self.request()
        assert (request.get_body(), request.get_json()) == (b'{"x": 1}', {"x": 1})
        assert dict(request.route_params) == {"installationId": "dev-1"}
        assert (request.method, request.url) == ("POST", "http://127.0.0.1:7071/api/events?a=1")


class TestTimerInput:
    def test_an_unmonitored_schedule_has_no_status(self):
        request = decode("timerTrigger", timer_input(past_due=False, schedule_status=None))
        assert (request.past_due, request.schedule_status, request.schedule) == (False, {}, {"AdjustForDST": True})

    def test_a_monitored_schedule_carries_its_status_and_past_due(self):
        status = {"Last": "2026-11-22T10:00:00+00:00", "Next": "2026-11-22T10:05:00+00:00", "LastUpdated": None}
        request = decode("timerTrigger", timer_input(past_due=True, schedule_status=status))
        assert (request.past_due, request.schedule_status) == (True, status)


class TestFunctionLoading:
    def test_a_trigger_parameter_annotated_with_a_type_its_converter_cannot_give_is_refused(self):
        """The worker refuses to load such a function; the dev host says so at start instead of at the first call."""
        app = func.FunctionApp()

        @app.service_bus_topic_trigger(arg_name="msg", topic_name="hr", subscription_name="push", connection="C")
        async def wrong(msg: func.HttpRequest) -> None: ...

        with pytest.raises(ConfigError, match="cannot be given to parameter 'msg'"):
            index_app(app)

    def test_single_and_batch_service_bus_annotations_are_accepted(self):
        app = func.FunctionApp()

        @app.service_bus_topic_trigger(arg_name="msg", topic_name="hr", subscription_name="push", connection="C")
        async def one(msg: func.ServiceBusMessage) -> None: ...

        @app.service_bus_topic_trigger(
            arg_name="batch", topic_name="hr", subscription_name="audit", connection="C", cardinality="many"
        )
        async def many(batch: list[func.ServiceBusMessage]) -> None: ...

        assert [spec.name for spec in index_app(app)] == ["one", "many"]
