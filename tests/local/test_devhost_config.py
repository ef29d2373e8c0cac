"""Dev host configuration: settings precedence, host.json, bus selection, schedules, function indexing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import azure.functions as func
import pytest

from local.devhost.functions import TriggerKind, index_app
from local.devhost.host import bus_mode
from local.devhost.timers import NcrontabSchedule
from local.run import rights_warning
from local.settings import export_settings, load_host_config, load_local_settings, resolve_setting_refs
from shared.domain.errors import ConfigError

pytestmark = pytest.mark.local


class TestSettings:
    def test_environment_wins_over_the_settings_file(self, tmp_path: Path) -> None:
        (tmp_path / "local.settings.json.example").write_text(json.dumps({"Values": {"A": "file", "B": "file"}}))
        settings = load_local_settings(tmp_path, {"A": "env"})
        environ = {"A": "env"}
        export_settings(settings, environ)
        assert environ == {"A": "env", "B": "file"}

    def test_local_settings_json_is_preferred_over_the_example(self, tmp_path: Path) -> None:
        (tmp_path / "local.settings.json.example").write_text(json.dumps({"Values": {"A": "example"}}))
        (tmp_path / "local.settings.json").write_text(
            json.dumps({"Values": {"A": "real"}, "Host": {"LocalHttpPort": 7090}})
        )
        settings = load_local_settings(tmp_path, {})
        assert (settings.values, settings.local_http_port) == ({"A": "real"}, 7090)

    def test_setting_references_resolve_and_unknown_ones_are_refused(self) -> None:
        assert resolve_setting_refs("%TOPIC%", {"TOPIC": "hr"}) == "hr"
        with pytest.raises(ConfigError, match="MISSING"):
            resolve_setting_refs("%MISSING%", {})

    def test_host_json_gives_route_prefix_and_service_bus_concurrency(self, tmp_path: Path) -> None:
        (tmp_path / "host.json").write_text(
            json.dumps(
                {
                    "extensions": {
                        "http": {"routePrefix": ""},
                        "serviceBus": {"maxConcurrentCalls": 3, "maxAutoLockRenewalDuration": "00:02:00"},
                    }
                }
            )
        )
        config = load_host_config(tmp_path / "host.json")
        assert (config.route_prefix, config.max_concurrent_calls, config.max_auto_lock_renewal) == ("", 3, 120.0)
        assert load_host_config(tmp_path / "absent.json").route_prefix == "api"

    def test_host_json_gives_the_batch_size_of_batch_functions(self, tmp_path: Path) -> None:
        path = tmp_path / "host.json"
        path.write_text(json.dumps({"extensions": {"serviceBus": {"maxMessageBatchSize": 250}}}))
        assert load_host_config(path).max_message_batch_size == 250
        assert load_host_config(tmp_path / "absent.json").max_message_batch_size == 1000  # the extension's default
        for invalid in (0, "100", True):
            path.write_text(json.dumps({"extensions": {"serviceBus": {"maxMessageBatchSize": invalid}}}))
            with pytest.raises(ConfigError, match="maxMessageBatchSize"):
                load_host_config(path)


class TestBusSelection:
    @pytest.mark.parametrize(
        ("environ", "expected"),
        [
            ({}, "local"),
            ({"ServiceBusConnection": "local"}, "local"),
            ({"ServiceBusConnection": "UseLocalBus=true"}, "local"),
            (
                {
                    "ServiceBusConnection": "Endpoint=sb://localhost;SharedAccessKeyName=k;SharedAccessKey=v;"
                    "UseDevelopmentEmulator=true;"
                },
                "azure",
            ),
            ({"ServiceBusConnection__fullyQualifiedNamespace": "ns.servicebus.windows.net"}, "azure"),
        ],
    )
    def test_connection_setting_decides_between_local_bus_and_broker(
        self, environ: dict[str, str], expected: str
    ) -> None:
        assert bus_mode(environ, "ServiceBusConnection") == expected

    def test_unrecognised_connection_setting_is_refused(self) -> None:
        with pytest.raises(ConfigError):
            bus_mode({"ServiceBusConnection": "nonsense"}, "ServiceBusConnection")


class TestSchedules:
    def test_six_field_ncrontab_counts_seconds_first(self) -> None:
        schedule = NcrontabSchedule.parse("30 */5 * * * *")
        assert schedule.next_after(datetime(2030, 1, 1, 0, 0, 0, tzinfo=UTC)) == datetime(
            2030, 1, 1, 0, 0, 30, tzinfo=UTC
        )
        assert schedule.interval().total_seconds() == 300

    @pytest.mark.parametrize("expression", ["00:05:00", "* * *", "99 * * * * *"])
    def test_refuses_timespans_and_invalid_expressions(self, expression: str) -> None:
        with pytest.raises(ConfigError):
            NcrontabSchedule.parse(expression)


class TestIndexing:
    def test_reads_triggers_from_the_apps_own_metadata(self) -> None:
        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.route(route="things/{id:int}", methods=["GET"])
        async def get_thing(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("x")

        @app.function_name("consume")
        @app.service_bus_topic_trigger(arg_name="msg", topic_name="%T%", subscription_name="push", connection="C")
        def consume(msg: func.ServiceBusMessage, context: func.Context) -> None:
            return None

        specs = {spec.name: spec for spec in index_app(app)}
        assert specs["get_thing"].kind is TriggerKind.HTTP
        assert specs["get_thing"].is_async
        assert specs["get_thing"].binding["route"] == "things/{id:int}"
        assert specs["consume"].kind is TriggerKind.SERVICE_BUS
        assert (specs["consume"].trigger_arg, specs["consume"].context_arg) == ("msg", "context")
        assert not specs["consume"].is_async

    def test_batch_triggers_are_indexed_as_batch_functions(self) -> None:
        app = func.FunctionApp()

        @app.service_bus_topic_trigger(
            arg_name="batch", topic_name="t", subscription_name="s", connection="C", cardinality=func.Cardinality.MANY
        )
        async def on_batch(batch: list[func.ServiceBusMessage]) -> None:
            return None

        @app.service_bus_topic_trigger(arg_name="msg", topic_name="t", subscription_name="s2", connection="C")
        async def on_one(msg: func.ServiceBusMessage) -> None:
            return None

        specs = {spec.name: spec for spec in index_app(app)}
        assert (specs["on_batch"].is_batch, specs["on_one"].is_batch) == (True, False)

    def test_refuses_bindings_it_cannot_run(self) -> None:
        app = func.FunctionApp()

        @app.queue_trigger(arg_name="msg", queue_name="q", connection="C")
        def on_queue(msg: func.QueueMessage) -> None:
            return None

        with pytest.raises(ConfigError, match="queueTrigger"):
            index_app(app)


class TestLocalRunRights:
    """make run signs with the Listen+Send rule the app has in Azure, and says so when a local file does not."""

    def test_the_committed_settings_use_the_production_rights(self) -> None:
        root = Path(__file__).resolve().parents[2]
        for name in ("local.settings.json.example", "local/local.settings.func.json.example"):
            values = json.loads((root / name).read_text())["Values"]
            assert rights_warning(values["PUSH_NH_CONNECTION_STRING"]) is None, name

    def test_a_full_access_connection_string_gets_a_warning(self) -> None:
        full = "Endpoint=http://127.0.0.1:9099/;SharedAccessKeyName=DefaultFullSharedAccessSignature;SharedAccessKey=k"
        warning = rights_warning(full)
        assert warning is not None
        assert "backend-listen-send" in warning
