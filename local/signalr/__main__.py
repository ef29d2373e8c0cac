"""``python -m local.signalr``: serve the SignalR Service stand-in and print the connection string the app uses."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import uvicorn

from local.signalr.app import create_app
from local.signalr.config import DEFAULT_PORT, WELL_KNOWN_ACCESS_KEY, StandInConfig, connection_string


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.signalr", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--access-key", default=WELL_KNOWN_ACCESS_KEY)
    parser.add_argument("--ping-interval", type=float, default=15.0, help="seconds between server pings")
    parser.add_argument("--cors-origin", action="append", default=None, help="allowed browser origin (default: any)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = StandInConfig(
        access_key=args.access_key,
        ping_interval=args.ping_interval,
        cors_origins=tuple(args.cors_origin or ["*"]),
    )
    print(f"SignalR Service stand-in (Serverless mode): http://{args.host}:{args.port}")
    print(f"  {connection_string(args.host, args.port, args.access_key)}", flush=True)
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning", ws="websockets-sansio")


if __name__ == "__main__":
    main()
