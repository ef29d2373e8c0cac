"""Tags, identifiers and tag expressions: validation, precedence, limits, error positions, and property tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.notification_hubs.errors import NhValidationError
from shared.notification_hubs.identifiers import (
    MAX_REQUEST_BYTES,
    check_request_size,
    validate_installation_id,
    validate_user_id,
)
from shared.notification_hubs.tags import (
    MAX_EXPRESSION_DEPTH,
    MAX_TAGS_PER_INSTALLATION,
    And,
    Not,
    Or,
    TagExpression,
    TagRef,
    canonical_tag,
    expression_tags,
    format_tag_expression,
    matches,
    parse_tag_expression,
    validate_installation_tags,
    validate_tag,
)

a, b, c, d = TagRef("a"), TagRef("b"), TagRef("c"), TagRef("d")


class TestValidateTag:
    @pytest.mark.parametrize(
        "tag",
        [
            "user:alice@example.com",
            "topic:hr",
            "lang:de",
            "A-Z_0.9#@:",
            "x" * 120,
            "$InstallationId:{2b1c-4f=}",
            "$UserId:{alice@example.com}",
            "$installationid:{abc}",
        ],
    )
    def test_accepts_documented_charset_and_system_tags(self, tag):
        validate_tag(tag)

    @pytest.mark.parametrize(
        ("tag", "complaint"),
        [
            ("", "empty"),
            ("x" * 121, "at most 120"),
            ("topic hr", "' '"),
            ("a=b", "'='"),
            ("café", "'é'"),
            ("a/b", "'/'"),
            ("$InstallationId:abc", "braces"),
            ("$UserId:{}", "braces"),
            ("$Other:{x}", "braces"),
            ("$UserId:{a b}", "braces"),
        ],
    )
    def test_refuses_invalid_tags_saying_why(self, tag, complaint):
        with pytest.raises(NhValidationError, match=complaint) as caught:
            validate_tag(tag, location="/tags/3")

        assert caught.value.errors[0].location == "/tags/3"

    def test_system_tag_may_carry_a_long_installation_id(self):
        validate_tag("$InstallationId:{" + "i" * 200 + "}")

        with pytest.raises(NhValidationError, match="at most 200"):
            validate_tag("$InstallationId:{" + "i" * 201 + "}")

    def test_canonical_tag_fixes_system_prefix_case_only(self):
        assert canonical_tag("$userid:{Alice}") == "$UserId:{Alice}"
        assert canonical_tag("Topic:HR") == "Topic:HR"


class TestValidateInstallationTags:
    def test_accepts_sixty_distinct_tags(self):
        validate_installation_tags([f"t{i}" for i in range(MAX_TAGS_PER_INSTALLATION)])

    def test_refuses_sixty_one_tags(self):
        with pytest.raises(NhValidationError, match="at most 60"):
            validate_installation_tags([f"t{i}" for i in range(61)])

    def test_limit_is_configurable(self):
        with pytest.raises(NhValidationError, match="at most 2"):
            validate_installation_tags(["a", "b", "c"], max_tags=2)

    def test_lists_every_bad_tag_with_its_index(self):
        with pytest.raises(NhValidationError) as caught:
            validate_installation_tags(["ok", "bad tag", "ok", "$UserId:{someone}"])

        assert [error.location for error in caught.value.errors] == ["/tags/1", "/tags/2", "/tags/3"]
        assert "duplicate" in caught.value.errors[1].message
        assert "assigned by the service" in caught.value.errors[2].message


class TestIdentifiers:
    @pytest.mark.parametrize("value", ["2b1c4f0e-aaaa-bbbb", "a_b@c#d.e:f=g", "x" * 200])
    def test_accepts_ids_usable_in_system_tags(self, value):
        validate_installation_id(value)
        validate_user_id(value)

    @pytest.mark.parametrize(("value", "complaint"), [("", "empty"), ("x" * 201, "at most 200"), ("a b", "' '")])
    def test_refuses_ids_that_cannot_appear_in_system_tags(self, value, complaint):
        with pytest.raises(NhValidationError, match=complaint) as caught:
            validate_installation_id(value)
        assert caught.value.errors[0].location == "installationId"

        with pytest.raises(NhValidationError, match=complaint) as caught:
            validate_user_id(value)
        assert caught.value.errors[0].location == "userId"

    def test_request_size_limit_is_64_kib_inclusive(self):
        check_request_size(b"x" * MAX_REQUEST_BYTES)

        with pytest.raises(NhValidationError, match="65537 bytes"):
            check_request_size(b"x" * (MAX_REQUEST_BYTES + 1))


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

    def test_expression_tags_are_distinct_in_order_of_appearance(self):
        assert expression_tags(parse_tag_expression("b && (a || !b) && c")) == ["b", "a", "c"]


# --- property tests --------------------------------------------------------------------------------------------

tag_names = st.one_of(
    st.from_regex(r"[A-Za-z0-9_@#.:\-]{1,12}", fullmatch=True),
    st.from_regex(r"\$(InstallationId|UserId):\{[A-Za-z0-9=_-]{1,8}\}", fullmatch=True),
)


def expressions(max_leaves: int = 6) -> st.SearchStrategy[TagExpression]:
    return st.recursive(
        tag_names.map(TagRef),
        lambda children: st.one_of(
            children.map(Not),
            st.builds(And, children, children),
            st.builds(Or, children, children),
        ),
        max_leaves=max_leaves,
    ).filter(lambda expr: depth(expr) <= MAX_EXPRESSION_DEPTH)


def depth(expr: TagExpression) -> int:
    if isinstance(expr, TagRef):
        return 0
    if isinstance(expr, Not):
        return 1 + depth(expr.operand)
    return 1 + max(depth(expr.left), depth(expr.right))


def evaluate(expr: TagExpression, tags: set[str]) -> bool:
    """Reference semantics, written independently of the module under test."""
    if isinstance(expr, TagRef):
        return expr.name in tags
    if isinstance(expr, Not):
        return not evaluate(expr.operand, tags)
    if isinstance(expr, And):
        return evaluate(expr.left, tags) and evaluate(expr.right, tags)
    return evaluate(expr.left, tags) or evaluate(expr.right, tags)


def leaves(expr: TagExpression) -> list[str]:
    if isinstance(expr, TagRef):
        return [expr.name]
    if isinstance(expr, Not):
        return leaves(expr.operand)
    return leaves(expr.left) + leaves(expr.right)


class TestTagExpressionProperties:
    @settings(max_examples=200, deadline=None)
    @given(expr=expressions(), data=st.data())
    def test_printed_expression_parses_back_to_the_same_tree_and_truth_value(self, expr, data):
        text = format_tag_expression(expr)
        names = leaves(expr)
        present = set(data.draw(st.lists(st.sampled_from(names), unique=True)))

        parsed = parse_tag_expression(text)

        assert parsed == expr
        assert matches(parsed, present) == evaluate(expr, present)

    @settings(max_examples=100, deadline=None)
    @given(expr=expressions(), data=st.data())
    def test_whitespace_free_printing_parses_the_same(self, expr, data):
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
