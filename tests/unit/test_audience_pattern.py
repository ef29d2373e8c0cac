"""The audience pattern the document states (GET /audience, POST /notifications) is a sublanguage of what the server
parses: every string it admits parses within NH's limits over the audience tag families, and the audiences the
docs, the console and the tests use are in it."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.api.campaign_schemas import AudienceParams
from shared.api.validation import validate_model
from shared.domain.audience import parse_audience_expression
from shared.domain.audience_pattern import audience_pattern
from shared.domain.errors import ValidationError
from shared.notification_hubs.tag_expressions import MAX_EXPRESSION_TAGS, MAX_OR_ONLY_EXPRESSION_TAGS

PATTERN = re.compile(audience_pattern())


@settings(deadline=None, max_examples=300)
@given(st.from_regex(audience_pattern(), fullmatch=True))
def test_every_admitted_audience_parses_within_nh_limits(expression: str):
    audience = parse_audience_expression(expression)
    tags = re.findall(r"[A-Za-z0-9_@#.:-]+", expression)
    only_or = "&&" not in expression and "!" not in expression
    assert len(tags) <= (MAX_OR_ONLY_EXPRESSION_TAGS if only_or else MAX_EXPRESSION_TAGS)
    assert audience.expression == expression  # nothing to collapse: the pattern has no runs of blanks


@pytest.mark.parametrize(
    "expression",
    [
        "topic:hr",
        "platform:fcmv1",
        "lang:es && platform:fcmv1",
        "dept:finance && platform:fcmv1",
        "topic:hr && !platform:wns",
        "(topic:hr || topic:finance) && !lang:de",
        "!(lang:en || lang:de) && user:alice",
        "user:alice||user:bob",
        " || ".join(f"user:u{i}" for i in range(MAX_OR_ONLY_EXPRESSION_TAGS)),
        "userh:" + "0" * 40,
    ],
)
def test_real_audiences_are_admitted(expression: str):
    assert PATTERN.fullmatch(expression)
    assert validate_model(AudienceParams, {"expression": expression}).expression == expression


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "role:push.admin",
        "topic:demo",
        "$UserId:{alice}",
        "topic:hr &&  lang:en",
        " topic:hr",
        "topic:hr\n",
        "((topic:hr || lang:en) && lang:de) && platform:wns",
        " || ".join(f"user:u{i}" for i in range(MAX_OR_ONLY_EXPRESSION_TAGS + 1)),
        " && ".join(f"user:u{i}" for i in range(MAX_EXPRESSION_TAGS + 1)),
        "userh:abc",
    ],
)
def test_anything_else_is_refused_saying_the_rule(expression: str):
    with pytest.raises(ValidationError) as refused:
        validate_model(AudienceParams, {"expression": expression})
    [error] = refused.value.errors
    assert error.location == "/expression"
    assert "up to 20 tags joined by '||'" in error.message
