"""The app settings Bicep writes match the settings the code reads (APP_SETTINGS in shared.composition.settings)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from shared.composition.settings import APP_SETTINGS, PLATFORM_SETTINGS

pytestmark = pytest.mark.infra

# Read by the code but only meaningful locally: in Azure they would override the identity-based settings
# (a ServiceBusConnection string wins over ServiceBusConnection__fullyQualifiedNamespace, and Service Bus has
# local auth off; likewise a SignalR connection string over PUSH_SIGNALR_ENDPOINT, with SignalR's keys disabled)
# or point at Azurite, so they must NOT be set in Azure.
LOCAL_ONLY = {
    "PUSH_TABLES_CONNECTION_STRING",
    "ServiceBusConnection",
    "PUSH_TELEMETRY_FILE",
    "PUSH_SIGNALR_CONNECTION_STRING",
}

# Settings the platform, the Functions host or its bindings read, not the app's code.
PLATFORM_PATTERNS = (
    r"FUNCTIONS_.*",
    r"AzureWebJobsStorage__.*",
    r"APPLICATIONINSIGHTS_.*",
    r"PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY",
    r"ServiceBusConnection__(credential|clientId)",
)


def _bicep_app_settings(function_app_bicep: dict[str, Any]) -> dict[str, Any]:
    for resource in function_app_bicep["resources"].values():
        config = resource["config"]
        if resource["type"] == "Microsoft.Web/sites/config" and config["name"] == "appsettings":
            properties: dict[str, Any] = config["properties"]
            return properties
    raise AssertionError("functionapp.bicep has no Microsoft.Web/sites/config 'appsettings' resource")


def _is_platform(name: str) -> bool:
    return any(re.fullmatch(pattern, name) for pattern in PLATFORM_PATTERNS)


class TestAppSettingsParity:
    def test_every_setting_the_app_needs_in_azure_is_set_by_bicep(self, function_app_bicep: dict[str, Any]) -> None:
        written = set(_bicep_app_settings(function_app_bicep))
        needed = {spec.name for spec in APP_SETTINGS} - LOCAL_ONLY
        assert needed - written == set()

    def test_bicep_sets_nothing_the_code_does_not_read_except_platform_settings(
        self, function_app_bicep: dict[str, Any]
    ) -> None:
        written = set(_bicep_app_settings(function_app_bicep))
        read = {spec.name for spec in APP_SETTINGS}
        assert {name for name in written - read if not _is_platform(name)} == set()

    def test_local_only_settings_are_not_set_in_azure(self, function_app_bicep: dict[str, Any]) -> None:
        assert LOCAL_ONLY & set(_bicep_app_settings(function_app_bicep)) == set()

    def test_local_only_names_are_still_settings_the_code_reads(self) -> None:
        assert {spec.name for spec in APP_SETTINGS} >= LOCAL_ONLY

    def test_azure_uses_easy_auth_and_a_key_vault_reference_for_notification_hubs(
        self, function_app_bicep: dict[str, Any]
    ) -> None:
        settings = _bicep_app_settings(function_app_bicep)
        assert settings["AUTH_MODE"] == "easyauth"
        assert settings["PUSH_NH_CONNECTION_STRING"].startswith("@Microsoft.KeyVault(")
        assert settings["PUSH_SIGNALR_ENDPOINT"].startswith("https://")  # the managed identity, no key
        assert settings["ServiceBusConnection__credential"] == "managedidentity"

    def test_platform_settings_are_left_to_the_platform(self, function_app_bicep: dict[str, Any]) -> None:
        """WEBSITE_AUTH_ENABLED written as an app setting would make the app trust identity headers whether or not
        App Service Authentication runs; App Service sets it itself from authsettingsV2."""
        assert {spec.name for spec in PLATFORM_SETTINGS} & set(_bicep_app_settings(function_app_bicep)) == set()

    def test_authentication_is_on_so_the_platform_reports_it(self, function_app_bicep: dict[str, Any]) -> None:
        auth = function_app_bicep["resources"]["authSettings"]["config"]["properties"]
        assert auth["platform"]["enabled"] is True
        assert auth["identityProviders"]["azureActiveDirectory"]["enabled"] is True

    def test_publisher_sources_come_from_the_parameter(self, function_app_bicep: dict[str, Any]) -> None:
        value = _bicep_app_settings(function_app_bicep)["LOB_PUBLISHER_SOURCES"]
        assert "lobPublisherSources" in json.dumps(value)

    def test_flex_consumption_deprecated_settings_are_absent(self, function_app_bicep: dict[str, Any]) -> None:
        deprecated = {
            "FUNCTIONS_WORKER_RUNTIME",
            "FUNCTIONS_EXTENSION_VERSION",
            "WEBSITE_RUN_FROM_PACKAGE",
            "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
            "WEBSITE_CONTENTSHARE",
            "SCM_DO_BUILD_DURING_DEPLOYMENT",
        }
        assert deprecated & set(_bicep_app_settings(function_app_bicep)) == set()
