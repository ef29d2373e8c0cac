"""Tag expressions: precedence, NH's limits, error positions, printing, and property tests of the parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.notification_hubs.errors import NhValidationError
from shared.notification_hubs.tag_expressions import (
    And,
    Not,
    Or,
    TagExpression,
    TagRef,
    expression_tags,
    format_tag_expression,
    parse_tag_expression,
)
from tests.support.tag_expressions import expressions

a, b, c, d = TagRef("a"), TagRef("b"), TagRef("c"), TagRef("d")


class TestParseTagExpression:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("a", a),
            ("a || b && c", Or(a, And(b, c))),
            ("a && b || c", Or(And(a, b), c)),
            ("!a && b", And(Not(a), b)),
            ("!(a && b)", Not(And(a, b))),
            ("(a || b) && c", And(Or(a, b), c)),
            ("a || b || c", Or(Or(a, b), c)),
            ("a&&!b||c&&d", Or(And(a, Not(b)), And(c, d))),
            ("  ( a )  ", a),
            ("!!a", Not(Not(a))),
            ("$UserId:{u1}&&alert", And(TagRef("$UserId:{u1}"), TagRef("alert"))),
        ],
    )
    def test_precedence_is_not_then_and_then_or_with_optional_whitespace(self, text, expected):
        assert parse_tag_expression(text) == expected

    def test_accepts_twenty_tags_when_only_or_is_used(self):
        expression = parse_tag_expression("||".join(f"t{i}" for i in range(20)))

        assert len(expression_tags(expression)) == 20

    def test_refuses_twenty_one_tags_even_when_only_or_is_used(self):
        with pytest.raises(NhValidationError, match="21 tags; at most 20"):
            parse_tag_expression(" || ".join(f"t{i}" for i in range(21)))

    def test_accepts_six_tags_with_and(self):
        parse_tag_expression("t0 && t1 && t2 && t3 && t4 && t5")

    @pytest.mark.parametrize(
        "text", ["t0 && t1 || t2 || t3 || t4 || t5 || t6", "!t0 || t1 || t2 || t3 || t4 || t5 || t6"]
    )
    def test_refuses_seven_tags_once_and_or_not_appears(self, text):
        with pytest.raises(NhValidationError, match="7 tags; at most 6"):
            parse_tag_expression(text)

    @pytest.mark.parametrize(
        ("text", "complaint"),
        [
            ("", "empty"),
            ("   ", "empty"),
            ("a & b", "single '&' at position 3"),
            ("a | b", "single '|' at position 3"),
            ("a &&", "expected a tag, '!' or '\\(' at position 5, found the end"),
            ("&& a", "expected a tag, '!' or '\\(' at position 1, found '&&'"),
            ("(a || b", "'\\(' at position 1 is not closed: expected '\\)' at position 8"),
            ("a || b)", "'\\)' at position 7 has no matching '\\('"),
            ("a b", "expected '&&', '\\|\\|' or the end at position 3, found 'b'"),
            ("a && ()", "expected a tag, '!' or '\\(' at position 7, found '\\)'"),
            ("topic:hr && café", "unexpected character 'é' at position 16"),
            ("x && $InstallationId:abc", "invalid system tag at position 6"),
            ("a && " + "x" * 121, "position 6 is invalid: a tag may have at most 120"),
            ("(" * 40 + "a" + ")" * 40, "nesting deeper than 32 levels at position 33"),
        ],
    )
    def test_invalid_expressions_say_what_and_at_which_position(self, text, complaint):
        with pytest.raises(NhValidationError, match=complaint) as caught:
            parse_tag_expression(text)

        assert caught.value.errors[0].location == "tagExpression"

    def test_expression_tags_are_distinct_in_order_of_appearance(self):
        assert expression_tags(parse_tag_expression("b && (a || !b) && c")) == ["b", "a", "c"]


class TestTagExpressionProperties:
    @settings(max_examples=200, deadline=None)
    @given(expr=expressions())
    def test_printed_expression_parses_back_to_the_same_tree(self, expr):
        assert parse_tag_expression(format_tag_expression(expr)) == expr

    @settings(max_examples=100, deadline=None)
    @given(expr=expressions())
    def test_whitespace_free_printing_parses_the_same(self, expr):
        text = format_tag_expression(expr).replace(" ", "")

        assert parse_tag_expression(text) == expr

    @settings(max_examples=300, deadline=None)
    @given(
        text=st.one_of(
            st.text(max_size=60),
            st.text(alphabet="ab $!&|(){}:IUd", max_size=60),
        )
    )
    def test_junk_input_raises_only_validation_errors(self, text):
        try:
            expression: TagExpression | None = parse_tag_expression(text)
        except NhValidationError as exc:
            expression, errors = None, exc.errors
        if expression is None:
            assert errors
        else:
            assert parse_tag_expression(format_tag_expression(expression)) == expression
