"""Operator CLI: list quarantined and dead-lettered events with their reasons, replay one after a fix.

    python -m local.deadletters list [--api URL]
    python -m local.deadletters replay ID [--api URL]

It calls the app's HTTP API, so it works against the dev host and against Azure alike: locally it sends the dev
headers (X-Dev-User, X-Dev-Roles: push.admin); against Azure pass an Entra access token with --token (or the
PUSH_API_TOKEN environment variable) for a user with the push.admin role.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import httpx

__all__ = ["main"]

DEFAULT_API = "http://127.0.0.1:7071/api"


def _headers(args: argparse.Namespace) -> dict[str, str]:
    token = args.token or os.environ.get("PUSH_API_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    return {"X-Dev-User": args.dev_user, "X-Dev-Roles": "push.admin"}


def _print_items(items: list[dict[str, Any]]) -> None:
    if not items:
        print("nothing quarantined or dead-lettered")
        return
    for item in items:
        replayed = f" (replayed {item['replayedAt']})" if item.get("replayedAt") else ""
        print(
            f"{item['id']}  {item['kind']:<10} {item['topic']}/{item['subscription']}  {item.get('at') or ''}{replayed}"
        )
        print(f"    reason: {item.get('reason')}: {item.get('description') or ''}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.deadletters", description=__doc__.splitlines()[0])
    parser.add_argument("--api", default=os.environ.get("PUSH_API_URL", DEFAULT_API), help="the app's /api base URL")
    parser.add_argument("--token", help="Entra access token (Azure); default: dev headers")
    parser.add_argument("--dev-user", default="operator", help="X-Dev-User in dev mode")
    parser.add_argument("--json", action="store_true", help="print the raw JSON")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list quarantined and dead-lettered events")
    replay = commands.add_parser("replay", help="re-publish one event to its topic")
    replay.add_argument("id")
    args = parser.parse_args(argv)

    with httpx.Client(base_url=args.api.rstrip("/"), headers=_headers(args), timeout=30) as client:
        try:
            if args.command == "list":
                response = client.get("/deadletters")
            else:
                response = client.post(f"/deadletters/{args.id}/replay")
        except httpx.HTTPError as exc:
            print(f"cannot reach {args.api}: {exc}", file=sys.stderr)
            return 2
    if response.status_code >= 400:
        print(f"{response.status_code}: {response.text}", file=sys.stderr)
        return 1
    body = response.json()
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
    elif args.command == "list":
        _print_items(body["items"])
    else:
        print(f"replayed {body['id']} to topic {body['topic']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
