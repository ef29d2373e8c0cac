"""The query parameters the OpenAPI document states are those the models check: every value a parameter's schema
admits is accepted, and a value outside it is refused (schemathesis relies on both)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from shared.api.campaign_schemas import AudienceParams
from shared.api.deliveries import DeliveriesParams, UserDeliveriesParams
from shared.api.openapi_parts import query_parameters
from shared.api.order_schemas import MyOrdersParams
from shared.api.realtime_schemas import InboxQuery
from shared.api.validation import validate_model
from shared.domain.errors import ValidationError

MODELS = [DeliveriesParams, UserDeliveriesParams, MyOrdersParams, InboxQuery]


def _schema(model: type[BaseModel], name: str) -> dict[str, Any]:
    [parameter] = [p for p in query_parameters(model) if p["name"] == name]
    return dict(parameter["schema"])


def _patterned() -> list[tuple[type[BaseModel], str]]:
    return [
        (model, parameter["name"])
        for model in MODELS
        for parameter in query_parameters(model)
        if "pattern" in parameter["schema"] and "format" not in parameter["schema"]
    ]


class TestDocumentedParameters:
    @pytest.mark.parametrize("model", [*MODELS, AudienceParams], ids=lambda m: m.__name__)
    def test_an_empty_value_is_refused_as_the_document_says(self, model):
        # No parameter is allowEmptyValue, and no parameter's schema admits "" (a pattern, minLength, an integer).
        for parameter in query_parameters(model):
            assert "allowEmptyValue" not in parameter
            required = {p["name"]: "e1" for p in query_parameters(model) if p["required"]}
            with pytest.raises(ValidationError):
                validate_model(model, {**required, parameter["name"]: ""})
            schema = parameter["schema"]
            assert schema["type"] == "integer" or "pattern" in schema or schema.get("minLength", 0) >= 1, schema

    def test_the_ledger_query_requires_nothing_and_the_callers_own_query_has_no_subject(self):
        """Every combination of eventId and userId is a question the operator route answers; /me has no subject."""
        assert [p["name"] for p in query_parameters(DeliveriesParams) if p["required"]] == []
        assert {p["name"] for p in query_parameters(DeliveriesParams)} >= {"eventId", "userId", "since", "cursor"}
        assert {p["name"] for p in query_parameters(UserDeliveriesParams)} == {"since", "limit", "cursor"}

    @pytest.mark.parametrize(("model", "name"), _patterned(), ids=lambda v: getattr(v, "__name__", v))
    @settings(max_examples=50, deadline=None)
    @given(data=st.data())
    def test_every_value_the_pattern_admits_is_accepted(self, model, name, data):
        schema = _schema(model, name)
        admitted = st.from_regex(schema["pattern"].removesuffix("$") + r"\Z").filter(
            lambda v: schema.get("minLength", 0) <= len(v) <= schema.get("maxLength", len(v))
        )
        value = data.draw(admitted)
        required = {p["name"]: "e1" for p in query_parameters(model) if p["required"] and p["name"] != name}
        assert getattr(validate_model(model, {**required, name: value}), _field(model, name)) == value

    @pytest.mark.parametrize(("model", "name"), _patterned(), ids=lambda v: getattr(v, "__name__", v))
    def test_a_value_outside_the_pattern_is_refused(self, model, name):
        pattern = _schema(model, name)["pattern"].removesuffix("$")
        outside = [v for v in ("a b", "a/b", "a,b", "x" * 1025, "ä") if not re.fullmatch(pattern, v)]
        assert outside
        required = {p["name"]: "e1" for p in query_parameters(model) if p["required"] and p["name"] != name}
        for value in outside:
            with pytest.raises(ValidationError):
                validate_model(model, {**required, name: value})

    @pytest.mark.parametrize("since", ["0", "1767225600", "2026-01-01", "2026-01-01T00:00Z", "2026-01-01T00:00:00"])
    def test_since_is_an_rfc3339_time_with_an_offset_and_nothing_else(self, since):
        with pytest.raises(ValidationError):
            validate_model(UserDeliveriesParams, {"since": since})


def _field(model: type[BaseModel], alias: str) -> str:
    return next(name for name, field in model.model_fields.items() if (field.alias or name) == alias)
