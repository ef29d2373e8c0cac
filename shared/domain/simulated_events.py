"""Realistic random LoB events of every catalogued type, for the timer simulation and for tests."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.domain.catalog import CATALOG

__all__ = ["DEFAULT_USER_IDS", "simulate_event", "simulate_events"]

DEFAULT_USER_IDS: tuple[str, ...] = ("alice", "bob", "carmen", "dieter", "emma", "farid")

_FIRST = ("Anna", "Jonas", "Lucía", "Mateo", "Sophie", "Noah", "Priya", "Lukas", "Chloé", "Jürgen", "Aisha", "Liam")
_LAST = ("Müller", "García", "Smith", "Novák", "Rossi", "Schmidt", "López", "O'Brien", "Yılmaz", "Dubois", "Chen")
_TEAMS = ("Payments", "Platform Engineering", "Risk", "Customer Care", "Logistics", "Data Science", "Legal")
_PURPOSES = ("Conference travel", "Team offsite", "Laptop refresh", "Cloud budget Q3", "Training course")
_MERCHANTS = ("Rail Europe", "Café Central", "Amazon Marketplace", "Shell Station", "IKEA", "Lufthansa")
_CURRENCIES = ("EUR", "USD", "GBP")
_CENT = Decimal("0.01")
_REJECTIONS = ("unknown_sku", "currency_mismatch", "price_mismatch", "payment_declined")
_CARRIERS = (
    ("DHL", "https://www.dhl.com/global-en/home/tracking.html?tracking-id={}"),
    ("UPS", "https://www.ups.com/track?tracknum={}"),
    ("DPD", "https://tracking.dpd.de/status/en_US/parcel/{}"),
    ("Royal Mail", "https://www.royalmail.com/track-your-item#/tracking-results/{}"),
)


def simulate_events(
    count: int,
    *,
    seed: int | None = None,
    now: datetime,
    user_ids: Sequence[str] = DEFAULT_USER_IDS,
    topics: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """``count`` CloudEvent dicts stamped ``now``: every catalogued type once (catalog order), then at random;
    ``topics`` limits them to those topics' types.

    The same ``seed`` gives the same events. Raises ValueError for an empty ``user_ids``.
    """
    rng = random.Random(seed)  # noqa: S311 -- simulated business data, not secrets
    types = [event_type for event_type, entry in CATALOG.items() if topics is None or entry.topic in topics]
    chosen = [types[i] if i < len(types) else rng.choice(types) for i in range(count)]
    return [simulate_event(event_type, rng, now=now, user_ids=user_ids) for event_type in chosen]


def simulate_event(
    event_type: str, rng: random.Random, *, now: datetime, user_ids: Sequence[str] = DEFAULT_USER_IDS
) -> dict[str, Any]:
    """One CloudEvent of ``event_type`` with plausible data.

    Raises KeyError for a type not in the catalog, ValueError for an empty ``user_ids``.
    """
    entry = CATALOG[event_type]
    data = _DATA[entry.topic](_Draw(rng, user_ids, now), event_type)
    return {
        "specversion": "1.0",
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "source": entry.source,
        "type": event_type,
        "time": now.isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


class _Draw:
    def __init__(self, rng: random.Random, user_ids: Sequence[str], now: datetime) -> None:
        if not user_ids:
            raise ValueError("user_ids must not be empty")
        self.rng = rng
        self.user_ids = user_ids
        self.now = now

    def name(self) -> str:
        return f"{self.rng.choice(_FIRST)} {self.rng.choice(_LAST)}"

    def user(self) -> str:
        return self.rng.choice(self.user_ids)

    def ref(self, prefix: str, digits: int = 6) -> str:
        return f"{prefix}-{self.rng.randrange(10 ** (digits - 1), 10**digits)}"

    def amount(self, low: int, high: int) -> float:
        # Log-uniform: small amounts are common, large ones rare. Written as a JSON number, as LoB systems do;
        # two decimals survive the float round trip exactly (repr is the shortest form).
        value = math.exp(self.rng.uniform(math.log(low), math.log(high)))
        return float(Decimal(value).quantize(_CENT))


def _hr(draw: _Draw, event_type: str) -> dict[str, Any]:
    data: dict[str, Any] = {"employeeId": draw.ref("E", 4), "displayName": draw.name()}
    if event_type == "hr.employee.joined":
        data["team"] = draw.rng.choice(_TEAMS)
    elif event_type == "hr.employee.team_changed":
        data["fromTeam"], data["toTeam"] = draw.rng.sample(_TEAMS, 2)
    return data


def _finance(draw: _Draw, event_type: str) -> dict[str, Any]:
    common = {
        "requestId": draw.ref("BR", 5),
        "amount": draw.amount(50, 25_000),
        "currency": draw.rng.choice(_CURRENCIES),
    }
    if event_type == "finance.budget_approval.requested":
        approver, requester = draw.rng.sample(list(draw.user_ids), 2) if len(draw.user_ids) > 1 else (draw.user(),) * 2
        return {
            **common,
            "approverId": approver,
            "requesterId": requester,
            "requesterName": draw.name(),
            "purpose": draw.rng.choice(_PURPOSES),
        }
    return {
        **common,
        "requesterId": draw.user(),
        "approverName": draw.name(),
        "decision": draw.rng.choice(("approved", "rejected")),
    }


def _accounts(draw: _Draw, _event_type: str) -> dict[str, Any]:
    return {
        "accountId": draw.ref("ACC", 5),
        "ownerId": draw.user(),
        "amount": draw.amount(1, 2_500),
        "currency": draw.rng.choice(_CURRENCIES),
        "merchant": draw.rng.choice(_MERCHANTS),
    }


def _orders(draw: _Draw, event_type: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "orderId": draw.ref("SO"),
        "customerId": draw.user(),
        "total": draw.amount(5, 3_000),
        "currency": draw.rng.choice(_CURRENCIES),
    }
    if event_type == "orders.order.shipped":
        carrier, url = draw.rng.choice(_CARRIERS)
        data["carrier"] = carrier
        data["trackingUrl"] = url.format(draw.rng.randrange(10**11, 10**12))
        data["estimatedDelivery"] = (draw.now + timedelta(days=draw.rng.randrange(1, 6))).date().isoformat()
    if event_type == "orders.order.rejected":
        data["reason"] = draw.rng.choice(_REJECTIONS)
    return data


_DATA: dict[str, Callable[[_Draw, str], dict[str, Any]]] = {
    "hr": _hr,
    "finance": _finance,
    "accounts": _accounts,
    "orders": _orders,
}
