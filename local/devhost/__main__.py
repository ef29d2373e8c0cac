"""`python -m local.devhost [--port 7071] [--app function_app]`: run the function app locally."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from local.devhost.host import HostOptions, serve
from shared.domain.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.devhost", description=__doc__)
    parser.add_argument("--app", default="function_app", help="module holding `app` (a func.FunctionApp)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default: Host.LocalHttpPort or 7071)")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project root (host.json, settings, infra/)")
    parser.add_argument("--settings", type=Path, default=None, help="settings file (default: local.settings.json)")
    parser.add_argument("--host-json", type=Path, default=None, help="host.json to use (default: <root>/host.json)")
    parser.add_argument("--topology", type=Path, default=None, help="Service Bus topology (Config.json schema)")
    parser.add_argument("--state-dir", type=Path, default=None, help="bus and timer state (default: .local/devhost)")
    parser.add_argument(
        "--bus",
        choices=["auto", "local", "azure"],
        default="auto",
        help="local bus, real broker, or decide from the ServiceBusConnection setting",
    )
    args = parser.parse_args(argv)
    # The app's log record factory (shared.composition.correlation) adds event_id and trace_id to every record
    # once its services are built; the defaults cover the lines logged before that.
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [event_id=%(event_id)s trace_id=%(trace_id)s]: %(message)s",
            defaults={"event_id": "-", "trace_id": "-"},
        )
    )
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # The Azure SDKs log every HTTP request at INFO; the host's own lines say what ran.
    logging.getLogger("azure").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    options = HostOptions(
        root=args.root,
        app_module=args.app,
        host=args.host,
        port=args.port,
        settings_file=args.settings,
        host_json=args.host_json,
        topology=args.topology,
        state_dir=args.state_dir,
        bus=args.bus,
    )
    try:
        asyncio.run(serve(options))
    except ConfigError as exc:
        print(f"dev host cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
