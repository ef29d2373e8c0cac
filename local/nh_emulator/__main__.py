"""``python -m local.nh_emulator``: serve the Notification Hubs emulator and print its connection strings."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from local.nh_emulator.config import (
    BACKEND_RULE_NAME,
    DEFAULT_HUB,
    DEFAULT_PORT,
    FULL_RULE_NAME,
    LISTEN_RULE_NAME,
    WELL_KNOWN_BACKEND_KEY,
    WELL_KNOWN_FULL_KEY,
    WELL_KNOWN_LISTEN_KEY,
    EmulatorConfig,
    Tier,
    connection_string,
)
from local.nh_emulator.server import build_server

__all__ = ["main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> tuple[EmulatorConfig, str, int]:
    """Command line -> (config, host, port)."""
    parser = argparse.ArgumentParser(prog="python -m local.nh_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--hub", default=DEFAULT_HUB)
    parser.add_argument("--https", action="store_true", help="serve TLS with a self-signed certificate")
    parser.add_argument("--tls-dir", type=Path, help="where to write ca.pem, server.pem, server.key")
    parser.add_argument("--tier", choices=[tier.value for tier in Tier], default=Tier.STANDARD.value)
    parser.add_argument("--full-key", default=WELL_KNOWN_FULL_KEY, help="key of DefaultFullSharedAccessSignature")
    parser.add_argument("--listen-key", default=WELL_KNOWN_LISTEN_KEY, help="key of DefaultListenSharedAccessSignature")
    parser.add_argument("--backend-key", default=WELL_KNOWN_BACKEND_KEY, help=f"key of {BACKEND_RULE_NAME}")
    parser.add_argument("--state-file", type=Path, help="JSON file that keeps installations and schedules")
    parser.add_argument("--clock-skew", type=float, default=300.0, help="seconds an expired token is still accepted")
    parser.add_argument("--read-delay", type=float, default=0.0, help="seconds before writes become visible")
    parser.add_argument("--tag-case", choices=["sensitive", "insensitive"], default="sensitive")
    parser.add_argument("--sink", action="store_true", help="accept sends without fan-out (benchmarks)")
    parser.add_argument("--app-api", default=None, help="the app's API base, for the page's 'open the app'")
    args = parser.parse_args(argv)
    config = EmulatorConfig(
        hub=args.hub,
        tier=Tier(args.tier),
        full_key=args.full_key,
        listen_key=args.listen_key,
        backend_key=args.backend_key,
        clock_skew=args.clock_skew,
        read_delay=args.read_delay,
        tag_case_sensitive=args.tag_case == "sensitive",
        state_file=args.state_file,
        sink=args.sink,
        https=args.https,
        tls_dir=args.tls_dir,
        app_api=args.app_api,
    )
    return config, args.host, args.port


def main(argv: Sequence[str] | None = None) -> None:
    """Start the emulator in the foreground until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config, host, port = parse_args(argv)
    server, tls = build_server(config, host, port)
    endpoint = f"{'https' if config.https else 'http'}://{host}:{port}/"
    print(f"Notification Hubs emulator: hub '{config.hub}', {config.tier.value} tier, page {endpoint}")
    print(f"  full access  ({FULL_RULE_NAME}):")
    print(f"    {connection_string(endpoint, config.full_key_name, config.full_key)}")
    print(f"  listen only  ({LISTEN_RULE_NAME}):")
    print(f"    {connection_string(endpoint, config.listen_key_name, config.listen_key)}")
    print(f"  the app's rule in Azure, listen + send  ({BACKEND_RULE_NAME}):")
    print(f"    {connection_string(endpoint, config.backend_key_name, config.backend_key)}")
    if tls is not None:
        print(f"  TLS: trust {tls.ca_file} (clients that force https may also use Endpoint=sb://{host}:{port}/)")
    server.run()


if __name__ == "__main__":
    main()
