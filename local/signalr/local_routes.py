"""The stand-in's own endpoints under /_signalr/ (no auth, loopback only): health, connections, sent messages,
faults and reset, for tests, benchmarks and curious developers."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from local.signalr.context import stand_in_of
from local.signalr.faults import FaultRule

__all__ = ["local_routes"]


async def health(request: Request) -> Response:
    state = stand_in_of(request).state
    return JSONResponse({"status": "ok", "openConnections": len(state.open_connections())})


async def connections(request: Request) -> Response:
    """Open connections, optionally of one hub (``?hub=``)."""
    hub = request.query_params.get("hub")
    found = stand_in_of(request).state.open_connections(hub)
    return JSONResponse(
        [{"connectionId": c.connection_id, "hub": c.hub, "userId": c.user_id, "openedAt": c.opened_at} for c in found]
    )


async def messages(request: Request) -> Response:
    """What the REST API sent, oldest first; ``?user=`` keeps the sends addressed to one user."""
    user = request.query_params.get("user")
    sent = stand_in_of(request).state.sent
    return JSONResponse([m.to_json() for m in sent if user is None or (m.scope == "user" and m.name == user)])


async def set_faults(request: Request) -> Response:
    """``{"seed": 1, "rules": [{"surface": "rest", "status": 503, "latency": 2.5, "rate": 1, "times": 3}]}``."""
    try:
        data = json.loads(await request.body())
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            raise ValueError("expected an object with a 'rules' array")
        rules = [FaultRule.from_json(item) for item in data["rules"]]
        seed = data.get("seed")
        stand_in_of(request).faults.configure(rules, int(seed) if seed is not None else None)
    except (ValueError, TypeError, KeyError) as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    return JSONResponse({"rules": len(rules)})


async def clear_faults(request: Request) -> Response:
    stand_in_of(request).faults.clear()
    return Response(status_code=204)


async def reset(request: Request) -> Response:
    """Close every connection and forget groups and sent messages."""
    stand_in_of(request).state.reset()
    return Response(status_code=204)


def local_routes() -> list[Route]:
    return [
        Route("/_signalr/health", health, methods=["GET"]),
        Route("/_signalr/connections", connections, methods=["GET"]),
        Route("/_signalr/messages", messages, methods=["GET"]),
        Route("/_signalr/faults", set_faults, methods=["POST"]),
        Route("/_signalr/faults", clear_faults, methods=["DELETE"]),
        Route("/_signalr/state", reset, methods=["DELETE"]),
    ]
