"""Connection-string parsing: JS-SDK tolerance, scheme handling, and keys kept out of repr and errors."""

from __future__ import annotations

import pytest

from shared.domain.errors import ConfigError
from shared.notification_hubs.connection import NhConnection, parse_connection_string
from shared.notification_hubs.errors import NhConfigurationError

KEY = "dGVzdGtleXRlc3RrZXl0ZXN0a2V5dGVzdGtleTEyMzQ="
PORTAL = f"Endpoint=sb://myns.servicebus.windows.net/;SharedAccessKeyName=DefaultFullSharedAccessSignature;SharedAccessKey={KEY}"


class TestParseConnectionString:
    def test_portal_string_becomes_https_base_url_with_name_and_key(self):
        connection = parse_connection_string(PORTAL)

        assert connection == NhConnection(
            base_url="https://myns.servicebus.windows.net/", key_name="DefaultFullSharedAccessSignature", key=KEY
        )

    def test_base64_padding_survives_when_parts_are_split_at_the_first_equals(self):
        connection = parse_connection_string("Endpoint=sb://ns.example/;SharedAccessKeyName=r;SharedAccessKey=a=b==")

        assert connection.key == "a=b=="

    def test_whitespace_empty_parts_and_trailing_semicolons_are_tolerated(self):
        text = f"  ;Endpoint = sb://myns.servicebus.windows.net/ ;; SharedAccessKeyName=rule ;SharedAccessKey={KEY};  "

        connection = parse_connection_string(text)

        assert (connection.base_url, connection.key_name, connection.key) == (
            "https://myns.servicebus.windows.net/",
            "rule",
            KEY,
        )

    def test_parts_may_come_in_any_order_and_unknown_parts_are_ignored(self):
        text = f"SharedAccessKey={KEY};EntityPath=hub;SharedAccessKeyName=rule;Endpoint=sb://ns.example/"

        assert parse_connection_string(text).base_url == "https://ns.example/"

    def test_http_endpoint_stays_http_and_keeps_its_port_when_pointing_at_an_emulator(self):
        connection = parse_connection_string(
            f"Endpoint=http://127.0.0.1:9099;SharedAccessKeyName=r;SharedAccessKey={KEY}"
        )

        assert connection.base_url == "http://127.0.0.1:9099/"

    @pytest.mark.parametrize(
        ("endpoint", "expected"),
        [
            ("sb://ns.example", "https://ns.example/"),
            ("SB://ns.example:5671/", "https://ns.example:5671/"),
            ("https://ns.example/", "https://ns.example/"),
            ("https://ns.example/prefix", "https://ns.example/prefix/"),
        ],
    )
    def test_base_url_always_ends_with_a_slash_when_endpoint_varies(self, endpoint, expected):
        connection = parse_connection_string(f"Endpoint={endpoint};SharedAccessKeyName=r;SharedAccessKey=k")

        assert connection.base_url == expected

    @pytest.mark.parametrize(
        ("text", "complaint"),
        [
            ("SharedAccessKeyName=r;SharedAccessKey=k", "no Endpoint"),
            ("Endpoint=;SharedAccessKeyName=r;SharedAccessKey=k", "no Endpoint"),
            ("Endpoint=sb://ns.example/;SharedAccessKeyName=r", "SharedAccessKey is missing"),
            ("Endpoint=sb://ns.example/;SharedAccessKey=k", "SharedAccessKeyName is missing"),
            ("Endpoint=sb://ns.example/", "needs SharedAccessKeyName"),
            ("Endpoint=ftp://ns.example/;SharedAccessKeyName=r;SharedAccessKey=k", "must start with"),
            ("Endpoint=ns.example;SharedAccessKeyName=r;SharedAccessKey=k", "must start with"),
            ("Endpoint=sb:///path;SharedAccessKeyName=r;SharedAccessKey=k", "no host"),
            ("Endpoint=sb://ns.example:99999/;SharedAccessKeyName=r;SharedAccessKey=k", "invalid port"),
            ("Endpoint=sb://ns.example/;SharedAccessKeyName=r;justakey", "no '=' assignment"),
            ("", "no Endpoint"),
        ],
    )
    def test_raises_configuration_error_naming_the_problem_when_input_is_unusable(self, text, complaint):
        with pytest.raises(NhConfigurationError, match=complaint):
            parse_connection_string(text)

    def test_keys_are_case_sensitive_like_the_js_sdk(self):
        with pytest.raises(NhConfigurationError, match="no Endpoint"):
            parse_connection_string("endpoint=sb://ns.example/;SharedAccessKeyName=r;SharedAccessKey=k")

    def test_configuration_error_is_also_the_application_config_error(self):
        with pytest.raises(ConfigError):
            parse_connection_string("nonsense")


class TestSecretsStayHidden:
    def test_repr_shows_endpoint_and_rule_but_never_the_key(self):
        text = repr(parse_connection_string(PORTAL))

        assert "myns.servicebus.windows.net" in text
        assert "DefaultFullSharedAccessSignature" in text
        assert KEY not in text

    def test_error_for_an_unassigned_part_does_not_echo_that_part(self):
        with pytest.raises(NhConfigurationError) as caught:
            parse_connection_string(f"Endpoint=sb://ns.example/;SharedAccessKeyName=r;{KEY[:-1]}")

        assert KEY[:-1] not in str(caught.value)
