"""Static checks of infra/: every Bicep file parses, and the resources say what the design requires."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from lark.exceptions import LarkError

from shared.composition.settings import publisher_scopes
from shared.domain.topics import TOPICS
from tests.infra.conftest import BICEP_FILES, INFRA, parse_bicep

pytestmark = pytest.mark.infra


def _resources(path: Path) -> dict[str, Any]:
    resources: dict[str, Any] = parse_bicep(path).get("resources", {})
    return resources


class TestBicepParses:
    def test_infra_has_the_main_template_and_its_modules(self) -> None:
        names = {path.relative_to(INFRA).as_posix() for path in BICEP_FILES}
        assert "main.bicep" in names
        assert {
            f"modules/{module}.bicep" for module in ("functionapp", "servicebus", "notificationhubs", "rbac")
        } <= names

    @pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
    def test_every_bicep_file_parses(self, path: Path) -> None:
        try:
            parsed = parse_bicep(path)
        except (ValueError, LarkError) as exc:  # how pycep reports invalid Bicep
            pytest.fail(f"{path} does not parse: {exc}")
        assert parsed.get("resources") or parsed.get("modules")

    def test_a_parse_error_is_reported_when_bicep_is_malformed(self, tmp_path: Path) -> None:
        broken = tmp_path / "broken.bicep"
        broken.write_text("resource x 'Microsoft.Foo/bar@2020-01-01' = {\n  name: \n")
        with pytest.raises((ValueError, LarkError)):
            parse_bicep(broken)

    def test_every_module_path_in_a_template_exists(self) -> None:
        for path in BICEP_FILES:
            for name, module in parse_bicep(path).get("modules", {}).items():
                assert module["type"] == "local", f"{path.name}: module {name} is not a local file"
                target = path.parent / module["detail"]["path"]
                assert target.exists(), f"{path.name}: module {name} points at a missing file"


class TestSecurityDefaults:
    def test_no_output_carries_a_secret_or_connection_string(self) -> None:
        for path in BICEP_FILES:
            text = path.read_text()
            for line in text.splitlines():
                if line.startswith("output "):
                    assert not re.search(
                        r"listKeys|ConnectionString|PrivateKey|SecretKey|password|\.value\b", line, re.IGNORECASE
                    ), line

    def test_pns_keys_are_secure_parameters(self) -> None:
        main = parse_bicep(INFRA / "main.bicep")["parameters"]
        for name in ("apnsPrivateKey", "fcmPrivateKey", "wnsSecretKey"):
            decorators = [d["type"] for d in main[name]["decorators"]]
            assert "secure" in decorators, name

    def test_storage_refuses_shared_keys_and_service_bus_refuses_sas(self) -> None:
        storage = _resources(INFRA / "modules" / "storage.bicep")["storage"]["config"]["properties"]
        assert storage["allowSharedKeyAccess"] is False
        assert storage["allowBlobPublicAccess"] is False
        bus = _resources(INFRA / "modules" / "servicebus.bicep")["namespace"]["config"]["properties"]
        assert bus["disableLocalAuth"] is True

    def test_the_backend_rule_has_listen_and_send_but_not_manage(self) -> None:
        rule = _resources(INFRA / "modules" / "notificationhubs.bicep")["backendRule"]["config"]
        assert sorted(rule["properties"]["rights"]) == ["Listen", "Send"]

    def test_easy_auth_requires_authentication_except_health_openapi_and_the_shop_pages_files(
        self, function_app_bicep: dict[str, Any]
    ) -> None:
        auth = function_app_bicep["resources"]["authSettings"]["config"]
        assert auth["name"] == "authsettingsV2"
        validation = auth["properties"]["globalValidation"]
        assert validation["requireAuthentication"] is True
        assert validation["unauthenticatedClientAction"] == "Return401"
        # The shop page is public (its data calls are not): the browser must load it to sign in at all.
        assert sorted(validation["excludedPaths"]) == [
            "/api/health",
            "/api/openapi.json",
            "/api/shop",
            "/api/shop/shop.css",
            "/api/shop/shop.js",
            "/api/shop/signalr.min.js",
        ]

    def test_signalr_accepts_the_apps_own_origin_besides_the_listed_ones(self) -> None:
        # The shop page is served by the function app; its SignalR client connects to the service cross-origin.
        main = parse_bicep(INFRA / "main.bicep")
        assert main["modules"]["signalR"]["config"]["params"]["corsOrigins"] == "signalROrigins"
        union = main["variables"]["signalROrigins"]["value"]["function"]
        assert union["type"] == "union"
        assert union["parameters"] == {
            "arg_1": "corsOrigins",
            "arg_2": ["https://${names.functionApp}.azurewebsites.net"],
        }

    def test_the_app_is_https_only_on_flex_consumption_with_a_user_assigned_identity(
        self, function_app_bicep: dict[str, Any]
    ) -> None:
        resources = function_app_bicep["resources"]
        assert resources["plan"]["config"]["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
        site = resources["site"]["config"]
        assert site["identity"]["type"] == "UserAssigned"
        assert site["properties"]["httpsOnly"] is True
        assert site["properties"]["functionAppConfig"]["runtime"]["name"] == "python"

    def test_every_role_id_is_a_named_commented_variable(self) -> None:
        lines = (INFRA / "modules" / "rbac.bicep").read_text().splitlines()
        guid = re.compile(r"'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'")
        role_lines = [i for i, line in enumerate(lines) if guid.search(line)]
        assert len(role_lines) >= 6
        for i in role_lines:
            assert lines[i].startswith("var "), lines[i]
            assert lines[i - 1].startswith("//"), f"role variable without a comment: {lines[i]}"

    def test_every_checkov_skip_has_a_reason(self) -> None:
        for path in BICEP_FILES:
            for line in path.read_text().splitlines():
                if "checkov:skip=" in line:
                    reason = line.split(":", 2)[-1].strip()
                    assert len(reason) > 20, f"{path.name}: skip without a justification: {line.strip()}"


class TestServiceBusTopology:
    @pytest.fixture
    def topology(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((INFRA / "servicebus-topology.json").read_text())
        return data

    def test_topology_has_the_emulator_namespace_and_one_topic_per_lob_system(self, topology: dict[str, Any]) -> None:
        namespaces = topology["UserConfig"]["Namespaces"]
        assert [ns["Name"] for ns in namespaces] == ["sbemulatorns"]
        # One topic per LoB system, and the in-app notifications' push fallback (scheduled messages).
        assert [t["Name"] for t in namespaces[0]["Topics"]] == ["hr", "finance", "accounts", "orders", "realtime"]

    def test_topics_and_subscriptions_stay_within_the_emulator_limits(self, topology: dict[str, Any]) -> None:
        for topic in topology["UserConfig"]["Namespaces"][0]["Topics"]:
            props = topic["Properties"]
            assert props["RequiresDuplicateDetection"] is True
            assert _seconds(props["DuplicateDetectionHistoryTimeWindow"]) <= 300  # emulator maximum PT5M
            assert _seconds(props["DefaultMessageTimeToLive"]) <= 3600  # emulator maximum PT1H
            expected = {"orders": ["push", "fulfilment"], "realtime": ["fallback"]}.get(topic["Name"], ["push"])
            assert [s["Name"] for s in topic["Subscriptions"]] == expected
            for sub in topic["Subscriptions"]:
                sp = sub["Properties"]
                assert sp["LockDuration"] == "PT1M"
                assert sp["MaxDeliveryCount"] == 5
                assert sp["DeadLetteringOnMessageExpiration"] is True
                assert _seconds(sp["DefaultMessageTimeToLive"]) <= 3600

    def test_every_rule_is_a_sql_filter_named_default_so_that_it_replaces_azures_match_all_rule(
        self, topology: dict[str, Any]
    ) -> None:
        """Azure adds a $Default match-all rule to every subscription; a rule of another name would be OR-ed with it
        and filter nothing. servicebus-subscription.bicep deploys each rule under its name, as a SqlFilter."""
        for topic in topology["UserConfig"]["Namespaces"][0]["Topics"]:
            for sub in topic["Subscriptions"]:
                for rule in sub.get("Rules", []):
                    assert rule["Name"] == "$Default", f"{topic['Name']}/{sub['Name']}"
                    assert rule["Properties"]["FilterType"] == "Sql"
                    assert rule["Properties"]["SqlFilter"]["SqlExpression"].strip()
                    assert "Action" not in rule["Properties"]

    def test_the_subscription_module_deploys_the_rules_as_sql_filters(self) -> None:
        resources = _resources(INFRA / "modules" / "servicebus-subscription.bicep")
        types = {resource["type"] for resource in resources.values()}
        assert "Microsoft.ServiceBus/namespaces/topics/subscriptions/rules" in types
        text = (INFRA / "modules" / "servicebus-subscription.bicep").read_text()
        assert "filterType: 'SqlFilter'" in text
        assert "rule.Properties.SqlFilter.SqlExpression" in text

    def test_bicep_loads_the_topology_file(self) -> None:
        text = (INFRA / "modules" / "servicebus.bicep").read_text()
        assert "loadJsonContent('../servicebus-topology.json')" in text


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", duration)
    assert match, f"unsupported ISO 8601 duration {duration}"
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


class TestEnvironments:
    @pytest.mark.parametrize("env", ["dev", "prod"])
    def test_the_lob_simulator_is_off_in_every_azure_environment(self, env: str) -> None:
        params = json.loads((INFRA / "env" / f"{env}.parameters.json").read_text())["parameters"]
        assert params["lobSimulatorEnabled"]["value"] is False
        main = parse_bicep(INFRA / "main.bicep")["parameters"]["lobSimulatorEnabled"]
        assert main["default"] is False

    @pytest.mark.parametrize("env", ["dev", "prod"])
    def test_environment_files_name_only_parameters_main_declares(self, env: str) -> None:
        declared = set(parse_bicep(INFRA / "main.bicep")["parameters"])
        params = json.loads((INFRA / "env" / f"{env}.parameters.json").read_text())["parameters"]
        assert set(params) - declared == set()

    @pytest.mark.parametrize("env", ["dev", "prod"])
    def test_publisher_sources_parse_as_the_app_parses_them(self, env: str) -> None:
        """The value reaches the app as LOB_PUBLISHER_SOURCES (string(object)); a typo in a source would stop it."""
        params = json.loads((INFRA / "env" / f"{env}.parameters.json").read_text())["parameters"]
        scopes = publisher_scopes(json.dumps(params["lobPublisherSources"]["value"]))
        granted = set().union(*scopes.roles.values(), *scopes.principals.values())
        assert granted == set(TOPICS.values())  # every LoB system has a role that may publish it

    def test_the_secrets_example_holds_no_values(self) -> None:
        params = json.loads((INFRA / "env" / "secrets.example.json").read_text())["parameters"]
        declared = set(parse_bicep(INFRA / "main.bicep")["parameters"])
        assert set(params) <= declared
        assert all(entry["value"] == "" for entry in params.values())


class TestModuleParameters:
    def test_main_passes_every_module_exactly_the_parameters_it_declares(self) -> None:
        """A parameter a module does not declare, or a required one not passed, fails only at deployment."""
        main = parse_bicep(INFRA / "main.bicep")
        for name, module in main["modules"].items():
            declared = parse_bicep(INFRA / module["detail"]["path"])["parameters"]
            passed = set(module["config"]["params"])
            required = {param for param, spec in declared.items() if "default" not in spec}
            assert passed - set(declared) == set(), f"module {name} does not declare {passed - set(declared)}"
            assert required - passed == set(), f"module {name} is not given {required - passed}"
