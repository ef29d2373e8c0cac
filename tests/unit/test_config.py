"""Settings: parsed once, every problem named, dev auth refused in Azure, secrets out of repr."""

from __future__ import annotations

import pytest

from shared.composition.settings import AuthMode, Settings
from shared.domain.errors import ConfigError

BASE = {
    "AUTH_MODE": "dev",
    "PUSH_NH_CONNECTION_STRING": "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=n;SharedAccessKey=s3cr3t",
    "PUSH_NH_HUB_NAME": "hub",
    "PUSH_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
}


class TestSettings:
    def test_parses_a_complete_local_configuration(self):
        settings = Settings.from_env(BASE)
        assert settings.auth_mode is AuthMode.DEV
        assert settings.nh_hub_name == "hub"
        assert settings.lob_simulator_enabled is False

    def test_names_every_missing_setting(self):
        with pytest.raises(ConfigError) as caught:
            Settings.from_env({})
        message = str(caught.value)
        for name in ("AUTH_MODE", "PUSH_NH_CONNECTION_STRING", "PUSH_NH_HUB_NAME", "PUSH_TABLES_"):
            assert name in message

    @pytest.mark.parametrize("mode", ["", "none", "trust-me"])
    def test_refuses_missing_or_unknown_auth_mode(self, mode):
        """Without a known AUTH_MODE the app must not fall back to trusting any header."""
        with pytest.raises(ConfigError, match="AUTH_MODE"):
            Settings.from_env({**BASE, "AUTH_MODE": mode})

    @pytest.mark.parametrize("azure_variable", ["WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME"])
    def test_refuses_dev_auth_where_the_app_runs_in_azure(self, azure_variable):
        with pytest.raises(ConfigError, match="refused where the app runs in Azure"):
            Settings.from_env({**BASE, azure_variable: "x"})

    def test_accepts_easyauth_in_azure(self):
        settings = Settings.from_env({**BASE, "AUTH_MODE": "easyauth", "WEBSITE_SITE_NAME": "app"})
        assert settings.running_in_azure
        assert settings.auth_mode is AuthMode.EASYAUTH

    def test_repr_hides_connection_strings(self):
        assert "s3cr3t" not in repr(Settings.from_env(BASE))

    def test_refuses_a_flag_that_is_not_a_boolean(self):
        with pytest.raises(ConfigError, match="LOB_SIMULATOR_ENABLED"):
            Settings.from_env({**BASE, "LOB_SIMULATOR_ENABLED": "maybe"})

    @pytest.mark.parametrize(("value", "trusted"), [("True", True), ("true", True), ("False", False), ("1", False)])
    def test_easyauth_trusts_identity_headers_only_where_the_platform_says_authentication_is_on(self, value, trusted):
        env = {**BASE, "AUTH_MODE": "easyauth", "WEBSITE_SITE_NAME": "app", "WEBSITE_AUTH_ENABLED": value}
        settings = Settings.from_env(env)
        assert settings.platform_authentication is trusted
        assert settings.identity_headers_trusted is trusted

    def test_the_platforms_flag_off_the_platform_is_not_trusted(self):
        """WEBSITE_AUTH_ENABLED without the variables App Service sets everywhere is a copy, not the platform."""
        settings = Settings.from_env({**BASE, "AUTH_MODE": "easyauth", "WEBSITE_AUTH_ENABLED": "True"})
        assert settings.identity_headers_trusted is False

    def test_easyauth_without_the_platform_setting_trusts_no_identity_header(self):
        settings = Settings.from_env({**BASE, "AUTH_MODE": "easyauth"})
        assert settings.identity_headers_trusted is False
        assert Settings.from_env(BASE).identity_headers_trusted is True  # dev mode reads its own headers


class TestPublisherSources:
    def test_parses_roles_and_principals(self):
        text = '{"roles": {"lob.publisher.hr": ["/lob/hr"]}, "principals": {"3f2a": ["/lob/orders", "/lob/hr"]}}'
        scopes = Settings.from_env({**BASE, "LOB_PUBLISHER_SOURCES": text}).publisher_scopes
        assert scopes.roles == {"lob.publisher.hr": {"/lob/hr"}}
        assert scopes.principals == {"3f2a": {"/lob/orders", "/lob/hr"}}

    def test_absent_means_nobody_may_publish(self):
        scopes = Settings.from_env(BASE).publisher_scopes
        assert scopes.size == 0

    @pytest.mark.parametrize(
        "text",
        [
            "not json",
            "[]",
            '{"groups": {}}',
            '{"roles": ["lob.publisher.hr"]}',
            '{"roles": {"lob.publisher.hr": "/lob/hr"}}',
            '{"roles": {"lob.publisher.hr": ["/lob/h r"]}}',
        ],
    )
    def test_refuses_anything_but_known_sources_per_role_or_principal(self, text):
        with pytest.raises(ConfigError, match="LOB_PUBLISHER_SOURCES"):
            Settings.from_env({**BASE, "LOB_PUBLISHER_SOURCES": text})
