"""The emulator's tag matching: an expression against a registration's tags, case rules, property tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.notification_hubs.tag_expressions import parse_tag_expression
from shared.notification_hubs.tag_matching import canonical_tag, matches
from tests.support.tag_expressions import evaluate, expressions, leaves


class TestMatching:
    @pytest.mark.parametrize(
        ("text", "tags", "expected"),
        [
            ("a", {"a"}, True),
            ("a", {"b"}, False),
            ("a || b && c", {"a"}, True),
            ("(a || b) && c", {"a"}, False),
            ("a && !b", {"a", "b"}, False),
            ("a && !b", {"a"}, True),
            ("$UserId:{u1} && alert", {"$UserId:{u1}", "alert", "lang:de"}, True),
        ],
    )
    def test_evaluates_like_boolean_logic_over_the_tag_set(self, text, tags, expected):
        assert matches(parse_tag_expression(text), tags) is expected

    def test_matching_is_case_sensitive_by_default_and_insensitive_on_request(self):
        expression = parse_tag_expression("Topic:HR")

        assert not matches(expression, ["topic:hr"])
        assert matches(expression, ["topic:hr"], case_sensitive=False)

    def test_system_tag_prefixes_match_in_any_case(self):
        assert matches(parse_tag_expression("$userid:{u1}"), ["$UserId:{u1}"])
        assert not matches(parse_tag_expression("$userid:{U1}"), ["$UserId:{u1}"])

    def test_canonical_tag_fixes_system_prefix_case_only(self):
        assert canonical_tag("$userid:{Alice}") == "$UserId:{Alice}"
        assert canonical_tag("Topic:HR") == "Topic:HR"


class TestMatchingProperties:
    @settings(max_examples=200, deadline=None)
    @given(expr=expressions(), data=st.data())
    def test_a_parsed_expression_matches_as_boolean_logic_over_the_tags_present(self, expr, data):
        present = set(data.draw(st.lists(st.sampled_from(leaves(expr)), unique=True)))

        assert matches(expr, present) == evaluate(expr, present)
