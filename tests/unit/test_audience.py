"""Audience expressions: NH's limits, only the server's tag families, and counts from mirror rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.domain.audience import (
    MAX_AUDIENCE_USERS,
    Audience,
    count_audience,
    parse_audience_expression,
    parse_user_list,
)
from shared.domain.errors import ValidationError
from shared.domain.records import InstallationRecord, Platform
from shared.domain.tag_policy import tags_for_installation

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def record(
    user: str, installation: str, platform: Platform, language: str, *, state: str = "active", **kw
) -> InstallationRecord:
    tags = tags_for_installation(user, platform, language, kw.get("interests", ()), (), kw.get("departments", ()))
    return InstallationRecord(
        user, installation, platform, "h" * 64, "abcdef", language, tuple(kw.get("interests", ())), tuple(tags), state,
        T0, T0,
    )  # fmt: skip


class TestParseAudienceExpression:
    @pytest.mark.parametrize(
        "expression",
        [
            "topic:hr",
            "lang:es && platform:fcmv1",
            "dept:finance || dept:human-resources",
            "user:alice || user:bob",
            "(topic:finance && !lang:de) || platform:wns",
            "userh:" + "a" * 40,
        ],
    )
    def test_accepts_expressions_over_the_server_tag_families(self, expression):
        assert parse_audience_expression(expression).expression == expression

    def test_blanks_are_collapsed_so_equal_audiences_compare_equal(self):
        assert parse_audience_expression("  lang:es   &&  platform:fcmv1 ") == Audience(
            expression="lang:es && platform:fcmv1"
        )

    @pytest.mark.parametrize(
        ("expression", "says"),
        [
            ("role:push.admin", "not one of the tag families"),
            ("alert", "not one of the tag families"),
            ("$InstallationId:{phone-1}", "system tag"),
            ("topic:sports", "the topics are"),
            ("lang:fr", "the languages are"),
            ("platform:gcm", "the platforms are"),
            ("dept:Finance", "dept:finance"),
            ("dept:human resources", "found 'resources'"),
        ],
    )
    def test_refuses_tags_the_server_never_assigns(self, expression, says):
        with pytest.raises(ValidationError) as caught:
            parse_audience_expression(expression, location="/audience")
        assert any(error.location == "/audience" for error in caught.value.errors)
        assert says in caught.value.detail + " ".join(error.message for error in caught.value.errors)

    def test_applies_nh_limit_of_six_tags_with_and(self):
        six = " && ".join(["topic:hr", "lang:en", "platform:apns", "dept:a", "dept:b", "user:x"])
        assert parse_audience_expression(six).expression == six
        with pytest.raises(ValidationError, match="at most 6"):
            parse_audience_expression(six + " && user:y")

    def test_applies_nh_limit_of_twenty_tags_with_only_or(self):
        twenty = " || ".join(f"user:u{n}" for n in range(20))
        assert parse_audience_expression(twenty).expression == twenty
        with pytest.raises(ValidationError, match="at most 20"):
            parse_audience_expression(twenty + " || user:u20")

    @pytest.mark.parametrize("expression", ["", "   ", "topic:hr &&", "(topic:hr", "topic:hr & lang:en"])
    def test_refuses_what_does_not_parse(self, expression):
        with pytest.raises(ValidationError):
            parse_audience_expression(expression)


class TestUserList:
    def test_duplicates_collapse_in_order(self):
        assert parse_user_list(["bob", "alice", "bob"]).users == ("bob", "alice")

    def test_an_empty_list_is_refused(self):
        with pytest.raises(ValidationError, match="no users"):
            parse_user_list([])

    def test_too_many_users_are_refused(self):
        with pytest.raises(ValidationError, match=f"at most {MAX_AUDIENCE_USERS}"):
            parse_user_list([f"u{n}" for n in range(MAX_AUDIENCE_USERS + 1)])

    def test_blank_ids_are_named(self):
        with pytest.raises(ValidationError) as caught:
            parse_user_list(["alice", "  "], location="/users")
        assert [error.location for error in caught.value.errors] == ["/users/1"]


class TestReachAndCounts:
    def test_an_expression_reaches_installations_by_their_tags(self):
        spanish_android = record("bob", "bob-pixel", Platform.FCMV1, "es", interests=["hr"])
        german_iphone = record("alice", "alice-iphone", Platform.APNS, "de", interests=["hr"])
        audience = parse_audience_expression("lang:es && platform:fcmv1")
        assert audience.reaches(spanish_android)
        assert not audience.reaches(german_iphone)

    def test_departments_match_the_normalised_identity_claim(self):
        finance = record("carol", "carol-surface", Platform.WNS, "en", departments=["Finance"])
        assert parse_audience_expression("dept:finance").reaches(finance)

    def test_pending_installations_are_not_reached(self):
        pending = record("bob", "bob-pixel", Platform.FCMV1, "es", state="pending")
        assert not parse_audience_expression("platform:fcmv1").reaches(pending)
        assert not parse_user_list(["bob"]).reaches(pending)

    def test_a_user_list_reaches_every_device_of_those_users(self):
        audience = parse_user_list(["alice"])
        assert audience.reaches(record("alice", "a1", Platform.APNS, "de"))
        assert audience.reaches(record("alice", "a2", Platform.WNS, "de"))
        assert not audience.reaches(record("bob", "b1", Platform.APNS, "de"))

    def test_counts_by_platform_and_language(self):
        counts = count_audience(
            [
                record("alice", "a1", Platform.APNS, "de"),
                record("alice", "a2", Platform.WNS, "de"),
                record("bob", "b1", Platform.FCMV1, "es"),
            ]
        )
        assert counts.installations == 3
        assert counts.users == 2
        assert counts.by_platform == {"apns": 1, "fcmv1": 1, "wns": 1}
        assert counts.by_language == {"de": 2, "es": 1}
