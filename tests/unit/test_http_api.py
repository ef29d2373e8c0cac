"""HTTP plumbing: JSON bodies refused clearly, errors as RFC 9457 problems without internals."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from shared.api.http import (
    ApiRequest,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    parse_json_object,
    problem_response,
)
from shared.domain.errors import (
    AuthenticationRequiredError,
    ConfigError,
    FieldError,
    ForbiddenError,
    NotFoundError,
    UpstreamError,
    UpstreamUnavailableError,
    ValidationError,
)


def request(body: bytes, content_type: str | None = "application/json") -> ApiRequest:
    headers = {"content-type": content_type} if content_type else {}
    return ApiRequest("PUT", headers=headers, body=body)


class TestParseJsonObject:
    def test_returns_the_object(self):
        assert parse_json_object(request(b'{"a": 1}')) == {"a": 1}

    @pytest.mark.parametrize("content_type", [None, "text/plain", "application/xml", "multipart/form-data"])
    def test_refuses_bodies_that_are_not_declared_json(self, content_type):
        with pytest.raises(UnsupportedMediaTypeError):
            parse_json_object(request(b"{}", content_type))

    def test_accepts_json_with_charset(self):
        assert parse_json_object(request(b"{}", "application/json; charset=utf-8")) == {}

    @pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe", b"[1]", b'"text"', b"null"])
    def test_refuses_malformed_or_non_object_json(self, body):
        with pytest.raises(ValidationError):
            parse_json_object(request(body))

    @pytest.mark.parametrize(
        "body",
        [
            b"[" * 10_000,
            b'{"a": 1, "a": 2}',
            b'{"a": ' + b"9" * 5000 + b"}",
            b'{"a": "\\ud800"}',
            '{"a": 1}'.encode("utf-16"),
            b'\xef\xbb\xbf{"a": 1}',
        ],
        ids=["nested", "duplicate", "long integer", "lone surrogate", "UTF-16", "BOM"],
    )
    def test_refuses_hostile_json_as_a_validation_error_naming_the_body(self, body):
        with pytest.raises(ValidationError) as caught:
            parse_json_object(request(body))
        assert [error.location for error in caught.value.errors] == ["body"]

    def test_keeps_every_digit_of_a_number_and_leaves_the_range_to_the_model(self):
        parsed = parse_json_object(request(b'{"a": 999999999999.9999, "b": 1e400}'))
        assert parsed == {"a": Decimal("999999999999.9999"), "b": Decimal("1e400")}

    def test_refuses_oversized_bodies(self):
        with pytest.raises(PayloadTooLargeError):
            parse_json_object(request(b'{"a": "' + b"x" * 20_000 + b'"}'))


class TestProblemResponse:
    @pytest.mark.parametrize(
        ("error", "status"),
        [
            (ValidationError("bad"), 400),
            (UnsupportedMediaTypeError("json please"), 415),
            (PayloadTooLargeError("big"), 413),
            (AuthenticationRequiredError("who"), 401),
            (ForbiddenError("no"), 403),
            (NotFoundError("gone"), 404),
            (UpstreamUnavailableError("nh down", retry_after=2.4), 503),
            (UpstreamError("nh said no"), 502),
            (ConfigError("PUSH_NH_CONNECTION_STRING=Endpoint=sb://x;SharedAccessKey=secret"), 500),
        ],
    )
    def test_maps_each_error_to_its_status_as_problem_json(self, error, status):
        response = problem_response(error)
        problem = json.loads(response.body)
        assert response.status == status
        assert response.content_type == "application/problem+json"
        assert problem["status"] == status
        assert problem["title"]
        assert problem["type"].startswith("https://")

    def test_lists_the_fields_at_fault(self):
        response = problem_response(ValidationError("invalid", [FieldError("/platform", "unknown platform")]))
        assert json.loads(response.body)["errors"] == [{"location": "/platform", "message": "unknown platform"}]

    def test_never_shows_upstream_or_configuration_internals(self):
        for error in (ConfigError("SharedAccessKey=secret"), UpstreamError("InvalidSignature TrackingId:abc")):
            body = problem_response(error).body.decode()
            assert "secret" not in body
            assert "TrackingId" not in body

    def test_logs_which_dependency_failed_but_never_a_configuration_value(self, caplog):
        with caplog.at_level("WARNING", logger="shared.api.http"):
            problem_response(UpstreamUnavailableError("Tables answered 503 during create campaign", cause="storage"))
            problem_response(ConfigError("SharedAccessKey=secret"))
        assert "UpstreamUnavailableError: Tables answered 503 during create campaign" in caplog.text
        assert "ConfigError" in caplog.text
        assert "secret" not in caplog.text

    def test_passes_retry_after_on_unavailable(self):
        assert problem_response(UpstreamUnavailableError("busy", retry_after=2.4)).headers["Retry-After"] == "2"
