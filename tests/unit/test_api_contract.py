"""The contract is exact: for every value type of the API and the catalog, a JSON Schema validator (jsonschema-rs,
the one schemathesis checks with, formats on) reading the published schema and the server's own validation agree
on generated values, valid and invalid alike. And the language tags the API admits are those the domain maps."""

from __future__ import annotations

import json
import zoneinfo
from datetime import date
from functools import cache
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from shared.api.openapi import openapi_document
from shared.api.schemas.devices import DebitThreshold, InstallationRequest, PreferencesRequest, QuietHoursRequest
from shared.api.schemas.wire import LANGUAGE_PATTERN, ClockTime, Interest, LanguageTag, TimeZoneName, time_zones
from shared.domain import strict_json
from shared.domain.catalog.wire_types import (
    DATE_PATTERN,
    Currency,
    HttpsUrl,
    Identifier,
    IsoDate,
    NonNegativeAmount,
    PositiveAmount,
    python_regex,
)
from shared.domain.errors import ValidationError as DomainValidationError
from shared.domain.events import CloudEventEnvelope
from shared.domain.languages import resolve_language

EXAMPLES = settings(max_examples=300, deadline=None)


@cache
def _contract(annotation: Any) -> tuple[TypeAdapter[Any], Any]:
    """The server's validator of ``annotation`` and a JSON Schema validator of its published schema."""
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    return adapter, jsonschema_rs.validator_for(adapter.json_schema(), validate_formats=True)


def _accepts(annotation: Any, value: Any) -> bool:
    try:
        _contract(annotation)[0].validate_python(value)
    except ValidationError:
        return False
    return True


def _agree(annotation: Any, value: Any) -> None:
    documented = _contract(annotation)[1].is_valid(value)
    accepted = _accepts(annotation, value)
    assert documented == accepted, f"{value!r}: the schema says {documented}, the server says {accepted}"


def _json_value(text: str) -> Any:
    """What a route's model receives for this JSON text (API bodies and event data keep exact decimals)."""
    return strict_json.loads(text, decimal_numbers=True)


json_numbers = st.from_regex(r"\A-?(0|[1-9][0-9]{0,15})(\.[0-9]{1,6})?([eE][-+]?[0-9]{1,3})?\Z").map(_json_value)
decimal_strings = st.from_regex(r"\A[-+ ]?[0-9]{0,16}(\.[0-9]{0,6})?([eE][0-9])?\s?\Z")
other_json = st.none() | st.booleans() | st.text(max_size=12) | st.lists(st.integers(), max_size=2)


class TestAmounts:
    @pytest.mark.parametrize("annotation", [PositiveAmount, NonNegativeAmount, DebitThreshold])
    @EXAMPLES
    @given(value=json_numbers | decimal_strings | other_json)
    def test_schema_and_validator_agree(self, annotation, value):
        _agree(annotation, value)

    @pytest.mark.parametrize(
        ("value", "accepted"),
        [
            ("249.99", True),
            ("0.0001", True),
            ("99999999999999.9999", True),
            ("100000000000000", False),
            ("0", False),
            ("0.00", False),
            ("1.23456", False),
            ("1e3", False),
            ("+5", False),
            (" 5", False),
            ("05", False),
            ("1_000", False),
        ],
    )
    def test_positive_amount_strings(self, value, accepted):
        assert _accepts(PositiveAmount, value) == accepted
        _agree(PositiveAmount, value)

    def test_negative_zero_is_zero(self):
        assert str(_contract(NonNegativeAmount)[0].validate_python(_json_value("-0.0"))) == "0.0"


class TestTextValues:
    @pytest.mark.parametrize("annotation", [Identifier, Currency, HttpsUrl, LanguageTag, ClockTime, Interest])
    @EXAMPLES
    @given(
        value=st.text(max_size=40)
        | st.text(" \t\n\r\x0b\x0c\x1c\x85\xa0\u1680\u2000\u2028\u3000\ufeff", max_size=5)
        | st.from_regex(r"\Ahttps?://[a-zA-Z0-9.:-]{0,12}(/[ -~]{0,10})?\Z")
        | st.from_regex(r"\A[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8}){0,3}\Z")
        | st.from_regex(r"\A[0-9]{1,2}:[0-9]{1,2}\Z")
        | st.sampled_from(["EUR", "USD", "XYZ", "eur", "hr", "orders", "gossip"])
        | other_json
    )
    def test_schema_and_validator_agree(self, annotation, value):
        _agree(annotation, value)

    @EXAMPLES
    @given(value=st.sampled_from(sorted(time_zones())) | st.text(max_size=20) | st.just("Mars/Olympus"))
    def test_time_zones(self, value):
        _agree(TimeZoneName, value)

    def test_every_documented_time_zone_loads(self):
        assert len(time_zones()) > 400
        for name in time_zones():
            zoneinfo.ZoneInfo(name)


class TestDates:
    @EXAMPLES
    @given(
        value=st.dates().map(date.isoformat)
        | st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
        | st.integers(0, 10**10)
        | st.text(max_size=12)
    )
    def test_schema_and_validator_agree(self, value):
        _agree(IsoDate, value)

    def test_every_day_of_four_centuries_matches_exactly_when_it_exists(self):
        """1600-1999 covers every leap-year rule (÷4, not ÷100, but ÷400) in the pattern."""
        pattern = python_regex(DATE_PATTERN)
        for year in range(1600, 2000):
            for month in range(1, 13):
                for day in range(1, 32):
                    text = f"{year:04d}-{month:02d}-{day:02d}"
                    try:
                        date(year, month, day)
                    except ValueError:
                        exists = False
                    else:
                        exists = True
                    assert bool(pattern.search(text)) == exists, text


ENVELOPE = {"specversion": "1.0", "id": "e-1", "source": "/lob/hr", "type": "hr.employee.left"}


class TestCloudEventEnvelope:
    @EXAMPLES
    @given(
        time=st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat())
        | st.from_regex(
            r"\A[0-9]{4}-[01][0-9]-[0-3][0-9][Tt ][0-2][0-9]:[0-6][0-9](:[0-6][0-9])?(\.[0-9]{1,10})?"
            r"([Zz]|[+-][0-2][0-9]:?[0-6][0-9])?\Z"
        )
        | other_json,
        content_type=st.sampled_from(["application/json", "Text/JSON", "application/cloudevents+json; charset=x"])
        | st.from_regex(r"\A[a-zA-Z+/ ;=.-]{0,30}\Z")
        | other_json,
    )
    def test_schema_and_validator_agree(self, time, content_type):
        _agree(CloudEventEnvelope, {**ENVELOPE, "time": time})
        _agree(CloudEventEnvelope, {**ENVELOPE, "datacontenttype": content_type})

    @pytest.mark.parametrize("value", [None, "e30=", {}])
    def test_binary_data_is_refused_whatever_its_value(self, value):
        _agree(CloudEventEnvelope, {**ENVELOPE, "data_base64": value})


class TestRequestBodies:
    @pytest.mark.parametrize(
        "body",
        [
            {"platform": "apns", "pushChannel": "ab" * 32, "language": "de-AT", "interests": ["hr"]},
            {"platform": "APNS", "pushChannel": "ab" * 32},
            {"platform": "gcm", "pushChannel": "x" * 30},
            {"platform": "fcmv1", "pushChannel": "fcm_" + "Z" * 40, "interests": None},
            {"platform": "fcmv1", "pushChannel": " fcm_" + "Z" * 40},
            {"platform": "wns", "pushChannel": "https://db5p.notify.windows.com/?token=AwYAAAB"},
            {"platform": "wns", "pushChannel": "https://evil.example.com/?notify.windows.com"},
            {"platform": "apns", "pushChannel": "ab" * 32, "tags": ["user:bob"]},
            {"platform": "apns", "pushChannel": "ab" * 32, "language": ""},
        ],
    )
    def test_installation_bodies(self, body):
        _agree(InstallationRequest, body)

    @pytest.mark.parametrize(
        "body",
        [
            {"interests": ["finance"], "debitThreshold": "250.00"},
            {"quietHours": {"start": "22:00", "end": "07:00", "timeZone": "Europe/Berlin"}},
            {"quietHours": {"start": "22:00:00", "end": "07:00", "timeZone": "Europe/Berlin"}},
            {"quietHours": {"start": "24:00", "end": "07:00", "timeZone": "Europe/Berlin"}},
            {"debitThreshold": _json_value("1e12")},
            {"debitThreshold": _json_value("999999999999.9999")},
            {"interests": [" hr"]},
        ],
    )
    def test_preferences_bodies(self, body):
        _agree(PreferencesRequest, body)
        if "quietHours" in body:
            _agree(QuietHoursRequest, body["quietHours"])


class TestLanguageTags:
    @settings(max_examples=300, deadline=None)
    @given(tag=st.from_regex(LANGUAGE_PATTERN.replace("$", r"\Z")).filter(lambda tag: len(tag) <= 35))
    def test_every_documented_tag_maps_to_a_language(self, tag):
        assert resolve_language(tag) in ("en", "de", "es")

    @settings(max_examples=1000, deadline=None)
    @given(tag=st.text(alphabet="abcdefghijklmnopqrstuvwxyzXQ0123456789-_", min_size=1, max_size=35))
    def test_the_domain_accepts_a_tag_only_when_the_api_does(self, tag):
        try:
            resolve_language(tag)
        except DomainValidationError:
            domain = False
        else:
            domain = True
        assert domain == bool(python_regex(LANGUAGE_PATTERN).search(tag))


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [ref for key, value in node.items() for ref in ([value] if key == "$ref" else _refs(value))]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def test_every_reference_in_the_document_resolves():
    document = json.loads(json.dumps(openapi_document()))
    refs = _refs(document)
    assert len(refs) > 50
    for ref in refs:
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        assert isinstance(node, dict), ref
