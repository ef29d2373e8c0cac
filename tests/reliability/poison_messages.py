"""What the poison scenario generates and how it judges each message from outside: the oracle (who each event type
addresses, which data fields it requires), the three kinds of message as Hypothesis strategies, and the verdict."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from shared.domain.catalog import CATALOG
from shared.domain.simulated_events import simulate_event
from tests.reliability.ledger import Observed

__all__ = ["ADDRESSEE", "CONTENT_TYPE", "DEVICES", "TOPICS", "USERS", "Case", "as_case", "judge", "messages"]

USERS = ("alice", "bob", "carmen")
DEVICES = {user: f"poison-{user}-phone" for user in USERS}
TOPICS = ("hr", "finance", "accounts", "orders")
TOPIC_SOURCES = {"hr": "/lob/hr", "finance": "/lob/finance", "accounts": "/lob/accounts", "orders": "/lob/orders"}
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"

# The oracle, written out from DESIGN.md rather than taken from the catalog: who each type addresses (None: every
# HR follower) and the data fields it requires.
ADDRESSEE: dict[str, str | None] = {
    "hr.employee.joined": None,
    "hr.employee.left": None,
    "hr.employee.team_changed": None,
    "finance.budget_approval.requested": "approverId",
    "finance.budget_approval.decided": "requesterId",
    "accounts.debit.posted": "ownerId",
    "orders.order.placed": "customerId",
    "orders.order.confirmed": "customerId",
    "orders.order.shipped": "customerId",
    "orders.order.delivered": "customerId",
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "hr.employee.joined": ("employeeId", "displayName", "team"),
    "hr.employee.left": ("employeeId", "displayName"),
    "hr.employee.team_changed": ("employeeId", "displayName", "fromTeam", "toTeam"),
    "finance.budget_approval.requested": (
        "requestId", "approverId", "requesterId", "requesterName", "amount", "currency", "purpose",
    ),
    "finance.budget_approval.decided": ("requestId", "requesterId", "approverName", "decision", "amount", "currency"),
    "accounts.debit.posted": ("accountId", "ownerId", "amount", "currency", "merchant"),
    "orders.order.placed": ("orderId", "customerId", "total", "currency"),
    "orders.order.confirmed": ("orderId", "customerId", "total", "currency"),
    "orders.order.shipped": ("orderId", "customerId", "total", "currency", "carrier", "trackingUrl"),
    "orders.order.delivered": ("orderId", "customerId", "total", "currency"),
}  # fmt: skip
TYPES = sorted(ADDRESSEE)
DEFECTS = (
    "bytes", "not_an_object", "no_attribute", "unknown_type", "foreign_source", "media_type", "topic",
    "data_field_missing", "data_field_wrong_type",
)  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One generated message: where it went, what it was, and what should become of it."""

    kind: str  # valid, poison or fuzzed
    topic: str
    message_id: str
    event_id: str | None
    body: bytes
    targets: frozenset[str]
    """For a valid event: the installations that must receive it."""


# ------------------------------------------------------------------------------------------- strategies

_json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_wrong_json_type = st.none() | st.booleans() | st.lists(st.integers(), max_size=2) | st.just({"x": 1})


def _event(draw: st.DrawFn, event_type: str) -> dict[str, Any]:
    rng = random.Random(draw(st.integers(0, 2**32)))
    return simulate_event(event_type, rng, now=datetime.now(UTC), user_ids=USERS)


def _targets(event: dict[str, Any]) -> frozenset[str]:
    field = ADDRESSEE[event["type"]]
    return frozenset(DEVICES.values()) if field is None else frozenset({DEVICES[event["data"][field]]})


@st.composite
def valid_messages(draw: st.DrawFn) -> tuple[str, dict[str, Any], str]:
    event = _event(draw, draw(st.sampled_from(TYPES)))
    return CATALOG[event["type"]].topic, event, CONTENT_TYPE


@st.composite
def poison_messages(draw: st.DrawFn) -> tuple[str, dict[str, Any] | bytes, str | None]:
    """A message broken in one way the contract names; the event (or raw body) and its content type."""
    event_type = draw(st.sampled_from(TYPES))
    topic = CATALOG[event_type].topic
    event = _event(draw, event_type)
    defect = draw(st.sampled_from(DEFECTS))
    content_type: str | None = CONTENT_TYPE
    if defect == "bytes":
        return topic, b"\x00<" + draw(st.binary(max_size=200)), content_type
    if defect == "not_an_object":
        return topic, json.dumps(draw(st.lists(json_values, max_size=3) | st.integers() | st.text())).encode(), None
    if defect == "no_attribute":
        del event[draw(st.sampled_from(["specversion", "id", "source", "type", "data"]))]
    elif defect == "unknown_type":
        event["type"] = draw(st.sampled_from(["lob.unknown.thing", "hr.employee.promoted", ""]))
    elif defect == "foreign_source":
        event["source"] = draw(st.sampled_from([s for t, s in TOPIC_SOURCES.items() if t != topic]))
    elif defect == "media_type":
        content_type = draw(st.sampled_from(["text/plain", "application/xml", "application/octet-stream"]))
    elif defect == "topic":
        topic = draw(st.sampled_from([t for t in TOPICS if t != topic]))
    elif defect == "data_field_missing":
        del event["data"][draw(st.sampled_from(REQUIRED[event_type]))]
    else:
        event["data"][draw(st.sampled_from(REQUIRED[event_type]))] = draw(_wrong_json_type)
    return topic, event, content_type


@st.composite
def fuzzed_messages(draw: st.DrawFn) -> tuple[str, dict[str, Any], str | None]:
    """A plausible event with some data fields replaced by arbitrary JSON, an optional attribute dropped, or its
    type swapped for another (possibly on the wrong topic now).

    The addressee stays one of the users: a debit for an unknown owner is skipped under the default threshold,
    which rightly leaves nothing outside to judge by (the poison kind breaks the addressee's type instead).
    """
    event = _event(draw, draw(st.sampled_from(TYPES)))
    topic = CATALOG[event["type"]].topic
    mutable = sorted(key for key in event["data"] if key != ADDRESSEE[event["type"]])
    for key in draw(st.lists(st.sampled_from(mutable), unique=True, max_size=3)):
        event["data"][key] = draw(json_values | st.text(max_size=300))
    if draw(st.booleans()):
        event.pop(draw(st.sampled_from(["time", "datacontenttype"])), None)
    if draw(st.integers(0, 9)) == 0:
        event["type"] = draw(st.sampled_from(TYPES))
    content_type = draw(st.sampled_from([CONTENT_TYPE, "application/json", None]))
    return topic, event, content_type


messages = (
    st.tuples(st.just("valid"), valid_messages())
    | st.tuples(st.just("poison"), poison_messages())
    | st.tuples(st.just("fuzzed"), fuzzed_messages())
)


# ---------------------------------------------------------------------------------------------- outcome


def as_case(kind: str, topic: str, event: dict[str, Any] | bytes) -> Case:
    """Give the message a fresh id (and an event with an id a fresh event id), so no two examples collide."""
    message_id = str(uuid.uuid4())
    if isinstance(event, bytes):
        return Case(kind, topic, message_id, None, event, frozenset())
    if "id" in event:
        event["id"] = message_id
    event_id = message_id if "id" in event else None
    targets = _targets(event) if kind == "valid" else frozenset()
    return Case(kind, topic, message_id, event_id, json.dumps(event).encode(), targets)


def judge(case: Case, observed: Observed) -> str:
    """What became of one case, from outside: ``ok`` or what went wrong."""
    parked = observed.parked.get(case.message_id)
    sent = case.event_id is not None and observed.sends.get(case.event_id, 0) > 0
    received = observed.received.get(case.event_id or "", Counter())
    if case.kind == "valid":
        if parked is not None:
            return f"valid event listed as {parked}"
        if set(received) != case.targets or any(n != 1 for n in received.values()):
            return f"valid event reached {dict(received)}, expected each of {sorted(case.targets)} once"
        return "ok"
    if case.kind == "poison":
        if parked is None or parked[0] != "quarantine":
            return "poison message not quarantined"
        return "sent to NH although quarantined" if sent else "ok"
    if sent and parked is not None:
        return "both sent to NH and quarantined"
    if not sent and parked is None:
        return "neither sent to NH nor quarantined (lost)"
    return "ok"
