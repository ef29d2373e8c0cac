"""Compose the dev host: settings, the app's functions, the bus, HTTP, timers and Service Bus triggers."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import uvicorn

from local.bus import LocalBus, load_topology
from local.devhost.functions import FunctionSpec, TriggerKind, index_app, load_app
from local.devhost.http import create_http_app
from local.devhost.servicebus import LocalBusTrigger, trigger_entity
from local.devhost.timers import TimerRunner
from local.settings import HostConfig, export_settings, load_host_config, load_local_settings
from shared.domain.errors import ConfigError, PushError

__all__ = ["HostOptions", "bus_mode", "serve"]

logger = logging.getLogger("local.devhost")
BusMode = Literal["local", "azure"]
_DRAIN_SECONDS = 10.0
_DEFAULT_INJECTOR = "shared.composition.root:use_bus"
# Closes the app's clients on stop (the real host just ends the worker process; a clean stop here avoids warnings).
_DEFAULT_CLOSER = "shared.composition.root:aclose"


@dataclass(frozen=True)
class HostOptions:
    root: Path
    app_module: str = "function_app"
    host: str = "127.0.0.1"
    port: int | None = None
    settings_file: Path | None = None
    host_json: Path | None = None
    topology: Path | None = None
    state_dir: Path | None = None
    bus: Literal["auto", "local", "azure"] = "auto"


class _Trigger(Protocol):
    async def run(self) -> None: ...
    async def drain(self, grace: float) -> None: ...


def bus_mode(environ: Mapping[str, str], connection: str) -> BusMode:
    """Which bus a connection setting points at: unset, empty, "local" or "UseLocalBus=true" mean the local bus;
    a connection string with Endpoint=sb:// (Azure or UseDevelopmentEmulator=true) or a
    ``<connection>__fullyQualifiedNamespace`` setting means a real broker. Raises ConfigError otherwise."""
    name = connection or "AzureWebJobsServiceBus"
    if environ.get(f"{name}__fullyQualifiedNamespace"):
        return "azure"
    value = environ.get(name, "").strip()
    if not value or value.lower() == "local" or value.lower().replace(" ", "").startswith("uselocalbus=true"):
        return "local"
    if "endpoint=sb://" in value.lower().replace(" ", ""):
        return "azure"
    raise ConfigError(f"setting {name} is not a Service Bus connection string, 'local' or 'UseLocalBus=true'")


def _inject_bus(bus: LocalBus, environ: Mapping[str, str]) -> None:
    target = environ.get("DEVHOST_BUS_INJECTOR", _DEFAULT_INJECTOR)
    module_name, _, attribute = target.partition(":")
    try:
        injector: Callable[[Any, Any], Any] = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        logger.warning("%s not found: the app will not publish to or list dead letters of the local bus", target)
        return
    injector(bus, bus)
    logger.info("local bus injected through %s", target)


async def _close_app(environ: Mapping[str, str]) -> None:
    target = environ.get("DEVHOST_APP_CLOSER", _DEFAULT_CLOSER)
    module_name, _, attribute = target.partition(":")
    try:
        closer: Callable[[], Any] = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        return
    try:
        await closer()
    except Exception:
        logger.exception("closing the app's clients failed")


def _print_banner(specs: list[FunctionSpec], base_url: str, config: HostConfig, timers: TimerRunner | None) -> None:
    prefix = f"/{config.route_prefix}" if config.route_prefix else ""
    lines = ["", "Functions:", ""]
    for spec in specs:
        if spec.kind is TriggerKind.HTTP:
            methods = ",".join(spec.binding.get("methods") or ["*"])
            route = spec.binding.get("route") or spec.name
            lines.append(f"        {spec.name}: [{methods}] {base_url}{prefix}/{route}")
        elif spec.kind is TriggerKind.TIMER and timers is not None:
            lines.append(f"        {spec.name}: timerTrigger ({timers.describe()[spec.name]})")
        else:
            lines.append(
                f"        {spec.name}: serviceBusTrigger ({spec.binding['topicName']}/"
                f"{spec.binding['subscriptionName']})"
            )
    print("\n".join(lines) + "\n", flush=True)


async def serve(options: HostOptions) -> None:
    """Run the app until SIGINT/SIGTERM. Raises ConfigError for anything the dev host cannot run faithfully."""
    root = options.root.resolve()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    settings = load_local_settings(root, os.environ, options.settings_file)
    export_settings(settings, os.environ)
    config = load_host_config(options.host_json or root / "host.json")
    state_dir = options.state_dir or root / ".local" / "devhost"
    app = load_app(options.app_module)
    specs = index_app(app)

    bus_specs = [s for s in specs if s.kind is TriggerKind.SERVICE_BUS]
    modes = {
        s.name: options.bus if options.bus != "auto" else bus_mode(os.environ, s.binding["connection"])
        for s in bus_specs
    }
    wants_local = options.bus == "local" or (
        options.bus == "auto"
        and (any(m == "local" for m in modes.values()) or bus_mode(os.environ, "ServiceBusConnection") == "local")
    )
    bus: LocalBus | None = None
    if wants_local:
        topology_path = options.topology or root / "infra" / "servicebus-topology.json"
        if not topology_path.is_file():
            raise ConfigError(f"the local bus needs a topology file; {topology_path} does not exist (--topology)")
        bus = LocalBus(state_dir / "bus.sqlite3", load_topology(topology_path))
        _inject_bus(bus, os.environ)

    triggers: list[_Trigger] = []
    azure_client: Any = None
    for spec in bus_specs:
        topic, subscription = trigger_entity(spec, os.environ)
        if modes[spec.name] == "local":
            assert bus is not None
            try:
                bus.topology.topic(topic).subscription(subscription)
            except PushError as exc:
                raise ConfigError(f"function {spec.name}: {exc}") from exc
            triggers.append(
                LocalBusTrigger(
                    spec,
                    bus,
                    topic,
                    subscription,
                    max_concurrent_calls=config.max_concurrent_calls,
                    max_lock_renewal=config.max_auto_lock_renewal,
                    max_batch_size=config.max_message_batch_size,
                )
            )
        else:
            from local.devhost.servicebus_azure import AzureServiceBusTrigger

            azure_client = azure_client or _azure_client(os.environ, spec.binding["connection"])
            triggers.append(
                AzureServiceBusTrigger(
                    spec,
                    azure_client,
                    topic,
                    subscription,
                    max_concurrent_calls=config.max_concurrent_calls,
                    max_lock_renewal=config.max_auto_lock_renewal,
                    max_batch_size=config.max_message_batch_size,
                )
            )

    timer_specs = [s for s in specs if s.kind is TriggerKind.TIMER]
    timers = TimerRunner(timer_specs, os.environ, state_dir / "timers.json") if timer_specs else None
    by_name = {s.name.lower(): s for s in specs}

    async def run_admin(name: str, raw_input: str) -> bool:
        spec = by_name.get(name.lower())
        if spec is None or timers is None or spec.kind is not TriggerKind.TIMER:
            return False
        return await timers.run_now(spec.name)

    http_app = create_http_app(specs, route_prefix=config.route_prefix, run_admin=run_admin)
    port = options.port or settings.local_http_port or 7071
    server = _Server(uvicorn.Config(http_app, host=options.host, port=port, log_level="warning", lifespan="off"))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.request_exit)
    server_task = asyncio.create_task(server.serve())
    while not server.started and not server_task.done():
        await asyncio.wait({server_task}, timeout=0.02)
    if server_task.done():
        await server_task
        return
    _print_banner(specs, f"http://{options.host}:{port}", config, timers)
    print(f"Host started: http://{options.host}:{port} (bus: {'local' if bus else 'broker'})", flush=True)
    background = [asyncio.create_task(t.run()) for t in triggers]
    if timers is not None:
        background.append(asyncio.create_task(timers.run()))
    try:
        await server_task
    finally:
        await asyncio.gather(*(t.drain(_DRAIN_SECONDS) for t in triggers))
        for task in background:
            task.cancel()
        for task in background:
            with suppress(asyncio.CancelledError, Exception):
                await task
        await _close_app(os.environ)
        if azure_client is not None:
            await azure_client.close()
        if bus is not None:
            bus.close()
        logger.info("host stopped")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the host stops it, then drains triggers before exiting."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_exit(self) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


def _azure_client(environ: Mapping[str, str], connection: str) -> Any:
    from azure.identity.aio import DefaultAzureCredential

    from shared.adapters.service_bus import create_service_bus_client

    name = connection or "AzureWebJobsServiceBus"
    namespace = environ.get(f"{name}__fullyQualifiedNamespace")
    if namespace:
        return create_service_bus_client(fully_qualified_namespace=namespace, credential=DefaultAzureCredential())
    return create_service_bus_client(connection_string=environ[name])
