"""The server-assigned tag scheme (CONTRACTS §D)."""

from __future__ import annotations

import hashlib
import inspect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.errors import ValidationError
from shared.domain.records import Platform
from shared.domain.tag_policy import (
    MAX_ASSIGNED_TAGS,
    department_tag,
    nh_user_id,
    role_tag,
    tags_for_installation,
    user_tag,
)
from shared.notification_hubs.tags import MAX_TAGS_PER_INSTALLATION, validate_tag


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:40]


class TestUserTag:
    @pytest.mark.parametrize("user_id", ["alice", "a.b@contoso.com", "id#1:x-y_z", "x" * 100])
    def test_keeps_ids_that_fit_the_tag_charset(self, user_id):
        assert user_tag(user_id) == f"user:{user_id}"
        assert nh_user_id(user_id) == user_id

    @pytest.mark.parametrize("user_id", ["Jürgen", "a b", "a=b", "x" * 101, "a/b", "$UserId:{x}"])
    def test_hashes_ids_outside_the_charset(self, user_id):
        assert user_tag(user_id) == f"userh:{_hash(user_id)}"
        assert nh_user_id(user_id) == f"userh={_hash(user_id)}"

    def test_hashed_nh_user_id_cannot_collide_with_a_plain_id(self):
        """'=' never occurs in a plain id, so no real user can own another user's hashed NH userId."""
        assert "=" in nh_user_id("Jürgen")
        with pytest.raises(ValidationError):
            user_tag("")
        with pytest.raises(ValidationError):
            nh_user_id("")

    @settings(max_examples=150, deadline=None)
    @given(st.text(min_size=1, max_size=300))
    def test_every_user_tag_is_a_valid_nh_tag(self, user_id):
        validate_tag(user_tag(user_id))


class TestNameTags:
    def test_normalises_case_and_whitespace(self):
        assert role_tag("  Push  Admin ") == "role:push-admin"
        assert role_tag("PUSH-ADMIN") == role_tag("push-admin")
        assert department_tag("Sales.EMEA") == "dept:sales.emea"

    def test_hashes_names_that_cannot_be_represented(self):
        assert role_tag("R&D") == f"roleh:{_hash('r&d')}"
        assert department_tag("Ventas España") == f"depth:{_hash('ventas-españa')}"
        assert department_tag("Ventas Espana") == "dept:ventas-espana"

    def test_blank_names_carry_no_tag(self):
        assert role_tag("   ") is None
        assert department_tag("") is None

    @settings(max_examples=150, deadline=None)
    @given(st.text(max_size=300))
    def test_every_name_tag_is_a_valid_nh_tag(self, name):
        for tag in (role_tag(name), department_tag(name)):
            if tag is not None:
                validate_tag(tag)


class TestTagsForInstallation:
    def test_assigns_identity_platform_language_and_interest_tags_in_a_stable_order(self):
        tags = tags_for_installation(
            "alice", Platform.FCMV1, "de", ["orders", "hr", "hr"], ["Push Admin"], ["Sales", "sales"]
        )
        assert tags == [
            "user:alice",
            "platform:fcmv1",
            "lang:de",
            "topic:hr",
            "topic:orders",
            "role:push-admin",
            "dept:sales",
        ]

    def test_rejects_an_unknown_interest(self):
        with pytest.raises(ValidationError) as info:
            tags_for_installation("alice", Platform.APNS, "en", ["user:bob"], [], [])
        assert info.value.errors[0].location == "interests"

    def test_rejects_an_unsupported_language(self):
        with pytest.raises(ValidationError):
            tags_for_installation("alice", Platform.APNS, "fr", [], [], [])

    def test_fills_the_limit_but_leaves_room_for_the_template_name(self):
        roles = [f"role{i}" for i in range(MAX_ASSIGNED_TAGS - 3)]
        tags = tags_for_installation("alice", Platform.WNS, "en", [], roles, [])
        assert len(tags) == MAX_ASSIGNED_TAGS == MAX_TAGS_PER_INSTALLATION - 1

    def test_raises_instead_of_dropping_tags_over_the_limit(self):
        roles = [f"role{i}" for i in range(MAX_ASSIGNED_TAGS - 3)]
        with pytest.raises(ValidationError, match="at most 59"):
            tags_for_installation("alice", Platform.WNS, "en", [], roles, ["one-more"])

    def test_takes_no_client_supplied_tags(self):
        """Clients cannot inject user/role/dept tags: no parameter accepts a raw tag, interests must be topics."""
        assert list(inspect.signature(tags_for_installation).parameters) == [
            "user_id",
            "platform",
            "language",
            "interests",
            "roles",
            "departments",
        ]
        with pytest.raises(ValidationError):
            tags_for_installation("alice", Platform.APNS, "en", ["role:push.admin"], [], [])
