"""Tags and identifiers: the charset, system tags, an installation's tags, ids and the request size limit."""

from __future__ import annotations

import pytest

from shared.notification_hubs.errors import NhValidationError
from shared.notification_hubs.identifiers import (
    MAX_REQUEST_BYTES,
    check_request_size,
    validate_installation_id,
    validate_user_id,
)
from shared.notification_hubs.tags import (
    MAX_TAGS_PER_INSTALLATION,
    validate_installation_tags,
    validate_tag,
)


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
