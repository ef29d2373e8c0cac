"""parse_cloud_event: CloudEvents 1.0 structured mode against the catalog, and its permanent reason codes."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.catalog import CATALOG, MAX_EVENT_BYTES, example_cloud_event
from shared.domain.catalog.payloads import DebitPosted
from shared.domain.errors import ValidationError
from shared.domain.events import PermanentEventError, parse_cloud_event

CE = "application/cloudevents+json; charset=utf-8"


def _debit(**changes: Any) -> dict[str, Any]:
    event = example_cloud_event(CATALOG["accounts.debit.posted"])
    event.update(changes)
    return event


def _body(event: Any) -> bytes:
    return json.dumps(event).encode()


def _reason(body: bytes, content_type: str | None = CE) -> PermanentEventError:
    with pytest.raises(PermanentEventError) as info:
        parse_cloud_event(body, content_type)
    return info.value


class TestParseValidEvents:
    @pytest.mark.parametrize("entry", CATALOG.values(), ids=list(CATALOG))
    def test_every_catalog_example_parses_into_its_payload_type(self, entry):
        event = parse_cloud_event(_body(example_cloud_event(entry)), CE)
        assert event.type == entry.event_type
        assert isinstance(event.data, entry.payload)
        assert event.time == datetime(2025, 3, 10, 9, 30, tzinfo=UTC)

    @pytest.mark.parametrize("content_type", [None, "", "application/json", "Application/CloudEvents+JSON"])
    def test_accepts_json_content_types_and_none(self, content_type):
        assert parse_cloud_event(_body(_debit()), content_type).id == "example-accounts.debit.posted"

    def test_keeps_every_digit_of_a_json_number_amount(self):
        body = _body(_debit()).replace(b'"amount": "249.99"', b'"amount": 1234567890123.4567')
        event = parse_cloud_event(body, CE)
        assert isinstance(event.data, DebitPosted)
        assert event.data.amount == Decimal("1234567890123.4567")

    def test_time_and_datacontenttype_are_optional(self):
        event = _debit()
        del event["time"], event["datacontenttype"]
        assert parse_cloud_event(_body(event), CE).time is None

    def test_keeps_the_time_offset(self):
        parsed = parse_cloud_event(_body(_debit(time="2025-03-10T10:30:00+01:00")), CE)
        assert parsed.time == datetime(2025, 3, 10, 10, 30, tzinfo=timezone(timedelta(hours=1)))

    def test_raw_is_the_event_as_received(self):
        event = _debit(extension="x")
        assert parse_cloud_event(_body(event), CE).raw == event

    @pytest.mark.parametrize("value", ["00-abc-01", True, 0, -(2**31), 2**31 - 1, 7.0, None])
    def test_extension_attributes_of_the_cloudevents_type_system_are_kept(self, value):
        event = _debit(traceparent=value)
        assert parse_cloud_event(_body(event), CE).raw["traceparent"] == value

    @pytest.mark.parametrize("value", [{"a": 1}, [1], 1.5, 2.0**31, 2**31, -(2**31) - 1])
    def test_an_extension_attribute_that_is_no_cloudevents_type_is_not_a_cloud_event(self, value):
        failure = _reason(_body(_debit(partitionkey=value)))
        assert failure.reason == "not_a_cloud_event"
        assert "/partitionkey" in [error.location for error in failure.errors]


class TestReasonCodes:
    def test_oversized(self):
        body = _body(_debit(padding="x" * MAX_EVENT_BYTES))
        assert _reason(body).reason == "oversized"

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"{",
            b"\xff\xfe\x00",
            b'{"a": NaN}',
            b"[" * 100_000,
            b'{"id": "a", "id": "b"}',
            b'{"x": 1e400}',
            b'{"x": "\\ud800"}',
            "{}".encode("utf-16"),
        ],
    )
    def test_invalid_json(self, body):
        assert _reason(body).reason == "invalid_json"

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"specversion": "0.3"}, "/specversion"),
            ({"id": ""}, "/id"),
            ({"id": 7}, "/id"),
            ({"id": "x" * 129}, "/id"),
            ({"source": None}, "/source"),
            ({"type": ["a"]}, "/type"),
            ({"time": "yesterday"}, "/time"),
            ({"time": "2025-03-10T09:30:00"}, "/time"),
            ({"datacontenttype": "application/xml"}, "/datacontenttype"),
            ({"data_base64": "e30="}, "/data_base64"),
        ],
    )
    def test_not_a_cloud_event_names_the_attribute(self, change, field):
        error = _reason(_body(_debit(**change)))
        assert error.reason == "not_a_cloud_event"
        assert field in [e.location for e in error.errors]
        assert field in error.detail

    @pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null"])
    def test_not_a_cloud_event_when_not_an_object(self, body):
        assert _reason(body).reason == "not_a_cloud_event"

    @pytest.mark.parametrize("content_type", ["text/plain", "application/cloudevents-batch+json", "application/xml"])
    def test_not_a_cloud_event_for_other_media_types(self, content_type):
        assert _reason(_body(_debit()), content_type).reason == "not_a_cloud_event"

    def test_unknown_type(self):
        assert _reason(_body(_debit(type="accounts.credit.posted"))).reason == "unknown_type"

    def test_source_mismatch(self):
        error = _reason(_body(_debit(source="/lob/hr")))
        assert error.reason == "source_mismatch"
        assert "/lob/accounts" in error.detail

    def test_invalid_payload_names_every_field_at_fault(self):
        error = _reason(_body(_debit(data={"accountId": "A", "amount": "-3", "currency": "eur"})))
        assert error.reason == "invalid_payload"
        locations = {e.location for e in error.errors}
        assert locations == {"/data/ownerId", "/data/amount", "/data/currency", "/data/merchant"}
        assert "/data/ownerId" in error.detail

    @pytest.mark.parametrize("number", [b"1e-400", b"123456789012345678901234567890", b"true"])
    def test_invalid_payload_for_amounts_out_of_range(self, number):
        body = _body(_debit()).replace(b'"249.99"', number)
        error = _reason(body)
        assert error.reason == "invalid_payload"
        assert [e.location for e in error.errors] == ["/data/amount"]

    @pytest.mark.parametrize("data", [None, [], "x", 5])
    def test_invalid_payload_when_data_is_not_an_object(self, data):
        assert _reason(_body(_debit(data=data))).reason == "invalid_payload"

    def test_invalid_payload_when_data_is_missing(self):
        event = _debit()
        del event["data"]
        assert _reason(_body(event)).reason == "invalid_payload"

    def test_is_a_validation_error(self):
        assert isinstance(_reason(b"{"), ValidationError)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)


class TestNeverCrashes:
    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=512))
    def test_arbitrary_bytes_raise_only_permanent_event_errors(self, body):
        with contextlib.suppress(PermanentEventError):
            parse_cloud_event(body, CE)

    @settings(max_examples=200, deadline=None)
    @given(st.sampled_from(list(CATALOG)), _json_values, st.dictionaries(st.sampled_from(["time", "id"]), _json_values))
    def test_arbitrary_json_data_raises_only_permanent_event_errors(self, event_type, data, overrides):
        event = {**example_cloud_event(CATALOG[event_type]), "data": data, **overrides}
        with contextlib.suppress(PermanentEventError):
            parse_cloud_event(_body(event), None)

    @settings(max_examples=200, deadline=None)
    @given(st.sampled_from(list(CATALOG)), st.data())
    def test_example_fields_replaced_by_arbitrary_json_raise_only_permanent_event_errors(self, event_type, draw):
        event = example_cloud_event(CATALOG[event_type])
        field = draw.draw(st.sampled_from(sorted(event["data"])))
        event["data"][field] = draw.draw(_json_values)
        reason = None
        try:
            parse_cloud_event(_body(event), CE)
        except PermanentEventError as error:
            reason = error.reason
        assert reason in (None, "invalid_payload")
