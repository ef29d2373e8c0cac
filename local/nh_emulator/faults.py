"""Injected faults per route: throttling (429/403 + Retry-After), 5xx, latency, dropped connections, and answers
lost after the request was processed (the duplicate window: NH accepted the send, the sender never heard so)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from local.faults import FaultInjector as SharedInjector
from local.faults import check_rate_and_latency
from local.nh_emulator.wire import EmulatorError, error_response

__all__ = ["ROUTES", "FaultInjector", "FaultRule", "route_labels"]

logger = logging.getLogger(__name__)

ROUTES = ("*", "installations", "send", "batch", "telemetry", "scheduled")
_DETAILS = {
    429: "The request was throttled; retry after the interval in Retry-After",
    403: "QuotaExceeded: The request rate for this hub was exceeded",
    401: "InvalidSignature: The token has an invalid signature (injected: a revoked key)",
    500: "InternalServerError: An internal error occurred",
    503: "ServiceUnavailable: The service is busy",
}


@dataclass
class FaultRule:
    """With probability ``rate``, on ``route``: wait ``latency`` s, then drop, or answer ``status``.

    With ``after_processing`` the request is served first (a send is accepted and reaches the devices), then the
    answer is held back ``latency`` s (past the client's timeout) and/or the connection dropped instead of it.
    """

    route: str = "*"
    rate: float = 1.0
    status: int | None = None
    retry_after: int | None = None
    latency: float = 0.0
    drop: bool = False
    times: int | None = None
    """Stop after this many injections (None: forever)."""
    after_processing: bool = False
    fired: int = 0
    """How many requests this rule has hit so far."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build from the /_emulator/faults JSON (camelCase). Raises ValueError on bad values."""
        rule = cls(
            route=str(data.get("route", "*")),
            rate=float(data.get("rate", 1.0)),
            status=int(data["status"]) if data.get("status") is not None else None,
            retry_after=int(data["retryAfter"]) if data.get("retryAfter") is not None else None,
            latency=float(data.get("latency", 0.0)),
            drop=bool(data.get("drop", False)),
            times=int(data["times"]) if data.get("times") is not None else None,
            after_processing=bool(data.get("afterProcessing", False)),
        )
        if rule.route not in ROUTES:
            raise ValueError(f"route must be one of {', '.join(ROUTES)}")
        if rule.status is not None and rule.status not in _DETAILS:
            raise ValueError(f"status must be one of {sorted(_DETAILS)}")
        check_rate_and_latency(rule.rate, rule.latency)
        if rule.after_processing and (rule.status is not None or not (rule.drop or rule.latency)):
            raise ValueError("afterProcessing takes drop and/or latency (the answer is lost or late), not a status")
        if rule.status in (429, 403) and rule.retry_after is None:
            rule.retry_after = 1
        return rule

    @property
    def where(self) -> str:
        return self.route

    def to_json(self) -> dict[str, Any]:
        """The rule as GET /_emulator/faults shows it, with how often it fired."""
        return {
            "route": self.route,
            "rate": self.rate,
            "status": self.status,
            "retryAfter": self.retry_after,
            "latency": self.latency,
            "drop": self.drop,
            "times": self.times,
            "afterProcessing": self.after_processing,
            "fired": self.fired,
        }


def route_labels(method: str, path: str, hub: str) -> set[str]:
    """The fault routes a request belongs to; empty for paths outside the hub."""
    prefix = f"/{hub}/"
    if not path.startswith(prefix):
        return set()
    rest = path[len(prefix) :]
    if rest.startswith("installations"):
        return {"*", "installations"}
    if rest.startswith("schedulednotifications"):
        return {"*", "scheduled"}
    if rest.startswith(("messages/$batch", "messages/%24batch")):
        return {"*", "send", "batch"}
    if rest.startswith("messages"):
        return {"*", "telemetry"} if method == "GET" else {"*", "send"}
    return {"*"}


class FaultInjector(SharedInjector[FaultRule]):
    """The emulator's rules, applied to a request on its way in (local/faults.py picks the rule)."""

    async def apply(
        self, scope: Scope, receive: Receive, send: Send, hub: str, downstream: ASGIApp | None = None
    ) -> bool:
        """Inject a fault for this request if a rule fires; True when the request is fully handled.

        ``downstream`` serves the request for the rules that lose its answer after processing (without it, those
        rules leave the request alone).
        """
        labels = route_labels(scope["method"], scope["path"], hub)
        rule = self.pick(labels) if labels and self.rules else None
        if rule is None:
            return False
        if rule.after_processing:
            if downstream is None:
                return False
            await _lose_answer(rule, downstream, scope, receive, send)
            return True
        if rule.latency:
            await asyncio.sleep(rule.latency)
        if rule.drop:
            logger.info("Fault: dropping the connection for %s %s", scope["method"], scope["path"])
            await _drop(send)
            return True
        if rule.status is None:
            return False  # latency only
        request = Request(scope, receive)
        error = EmulatorError(rule.status, _DETAILS[rule.status], retry_after=rule.retry_after)
        await error_response(request, error)(scope, receive, send)
        return True


async def _lose_answer(rule: FaultRule, downstream: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve the request with its answer held back, then wait ``latency`` and drop the connection or answer late."""
    held: list[Message] = []

    async def hold(message: Message) -> None:
        held.append(message)

    await downstream(scope, receive, hold)
    if rule.latency:
        await asyncio.sleep(rule.latency)
    if rule.drop:
        logger.info(
            "Fault: %s %s was processed; dropping the connection instead of the answer", scope["method"], scope["path"]
        )
        await _drop(send)
        return
    logger.info("Fault: %s %s was processed; answering %.1f s late", scope["method"], scope["path"], rule.latency)
    for message in held:
        await send(message)


async def _drop(send: Send) -> None:
    """Close the socket without a response (uvicorn's send is a bound method of its cycle, which has it)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("fault injection: cannot reach the transport to drop the connection")
    transport.abort()
    for _ in range(3):  # let connection_lost run so the server does not answer 500 afterwards
        await asyncio.sleep(0)
