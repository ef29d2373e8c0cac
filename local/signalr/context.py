"""What every route of the stand-in shares: its configuration, state and faults, and small response helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import cast

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from local.signalr.config import StandInConfig
from local.signalr.faults import FaultInjector
from local.signalr.hub import HubState

__all__ = ["HUB_NAME", "StandIn", "error", "stand_in_of"]

# Azure's rule for hub names: a letter, then letters, digits or underscores.
HUB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}")


@dataclass
class StandIn:
    config: StandInConfig
    state: HubState
    faults: FaultInjector


def stand_in_of(connection: HTTPConnection) -> StandIn:
    return cast(StandIn, connection.app.state.stand_in)


def error(status: int, message: str) -> JSONResponse:
    """An error as the service answers it: a small JSON body with a code and a message."""
    return JSONResponse({"code": status, "message": message}, status_code=status)
