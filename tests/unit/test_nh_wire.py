"""Safe XML parsing, Retry-After, Location ids and the multipart batch body."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from shared.notification_hubs.wire import (
    XmlRefusedError,
    batch_body,
    id_from_location,
    parse_notification_details,
    parse_notification_outcome,
    parse_retry_after,
    parse_xml,
)

NOW = 1_700_000_000.0


class TestParseXml:
    def test_namespaces_are_dropped_from_tags_and_attributes(self) -> None:
        root = parse_xml(b'<a xmlns="urn:x" xmlns:i="urn:i"><b i:nil="true">t</b></a>')
        assert root.tag == "a"
        assert root.find("b") is not None
        assert root.find("b").attrib == {"nil": "true"}  # type: ignore[union-attr]

    @pytest.mark.parametrize(
        "document",
        [
            b'<!DOCTYPE a [<!ENTITY x "boom">]><a>&x;</a>',
            b'<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>',
            b'<!DOCTYPE a [<!ENTITY % p SYSTEM "http://127.0.0.1/x"> %p;]><a/>',
            b"<a>&undefined;</a>",
            b"<a>",
            b"",
        ],
    )
    def test_dtds_entities_and_broken_documents_are_refused(self, document: bytes) -> None:
        with pytest.raises(XmlRefusedError):
            parse_xml(document)


class TestRetryAfter:
    @pytest.mark.parametrize(("value", "seconds"), [("5", 5.0), (" 2.5 ", 2.5), ("0", 0.0), ("-3", 0.0)])
    def test_delta_seconds_are_read(self, value: str, seconds: float) -> None:
        assert parse_retry_after(value, NOW) == seconds

    def test_an_http_date_is_read_relative_to_now(self) -> None:
        value = format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)
        assert parse_retry_after(value, NOW) == 30.0

    @pytest.mark.parametrize("value", [None, "", "soon", "nan", "inf"])
    def test_unusable_values_give_none(self, value: str | None) -> None:
        assert parse_retry_after(value, NOW) is None


class TestLocation:
    @pytest.mark.parametrize(
        ("location", "expected"),
        [
            ("https://ns/hub/messages/abc-1?api-version=2020-06", "abc-1"),
            ("https://ns/hub/messages/$batch/abc-2?api-version=2020-06&direct", "abc-2"),
            ("https://ns/hub/messages/$batch?api-version=2020-06&direct", None),
            ("https://ns/hub/messages?api-version=2020-06", None),
            ("https://ns/hub/messages/a%20b", "a b"),
            (None, None),
            ("", None),
        ],
    )
    def test_the_id_is_the_last_path_segment(self, location: str | None, expected: str | None) -> None:
        assert id_from_location(location, "messages") == expected


class TestBatchBody:
    def test_each_call_uses_a_fresh_boundary_that_the_content_type_names(self) -> None:
        first_type, first = batch_body("application/json", "{}", ["h"])
        second_type, _ = batch_body("application/json", "{}", ["h"])
        assert first_type != second_type
        boundary = first_type.split("boundary=")[1]
        assert first.startswith(f"--{boundary}\r\n".encode())
        assert first.endswith(f"--{boundary}--".encode())
        assert first.count(f"--{boundary}".encode()) == 3


class TestXmlBodies:
    def test_an_outcome_without_results_has_none(self) -> None:
        outcome = parse_notification_outcome(b"<NotificationOutcome><Success>2</Success></NotificationOutcome>")
        assert (outcome.success, outcome.failure, outcome.results) == (2, 0, [])

    def test_the_wrong_root_element_is_refused(self) -> None:
        with pytest.raises(ValueError, match="NotificationDetails"):
            parse_notification_details(b"<Error><Code>500</Code></Error>")

    def test_containers_without_outcomes_are_left_out(self) -> None:
        details = parse_notification_details(
            b"<NotificationDetails><State>Enqueued</State><ApnsOutcomeCounts/>"
            b"<XiaomiOutcomeCounts><Outcome><Name>Success</Name><Count>1</Count></Outcome></XiaomiOutcomeCounts>"
            b"</NotificationDetails>"
        )
        assert details.state == "Enqueued"
        assert details.outcome_counts == {"xiaomi": {"Success": 1}}
