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
