"""Generated Service Bus messages into the push functions (in process, with the input the Functions host would give
them, Azurite and the NH emulator), judged afterwards from outside: what the emulator's devices received and what
the operator's dead-letter listing (GET /api/deadletters) shows.

Three kinds of message, each with its expected end:

- valid: an unmodified event of a catalogued type on its own topic. It must reach exactly the devices it addresses
  (the addressee's, or every HR follower's), once, and not be listed.
- poison: a message that breaks the contract in one known way (not JSON, not an object, a required CloudEvent
  attribute or data field missing or of the wrong JSON type, an unknown type, a source of another system, a media
  type that is not JSON, an event on another system's topic). It must be quarantined with a reason and sent to no
  one.
- fuzzed: an event with arbitrary JSON in some data fields, an optional attribute dropped, or its type swapped.
  Whether it is valid is not known in advance: it must end either sent to NH or quarantined, never both, never
  neither.

Every function call must also return (complete the message): an exception would make the bus retry a message that
can never succeed.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import function_app
from local.nh_emulator.config import EmulatorConfig
from local.nh_emulator.testing import running_emulator
from shared.composition.services import Services
from shared.domain.catalog import CATALOG
from shared.domain.simulated_events import simulate_event
from tests.reliability.ledger import Observed, observe
from tests.reliability.report import BOOK
from tests.reliability.sizes import Sizes
from tests.support.host_input import call_http, service_bus_message
from tests.support.services import app_services

# One event loop for the module: the services (and their HTTP clients) outlive a single test.
pytestmark = [pytest.mark.reliability, pytest.mark.asyncio(loop_scope="module")]

HUB = "function-tier"
TRIGGERS = {
    "hr": function_app.dispatch_hr_event,
    "finance": function_app.dispatch_finance_event,
    "accounts": function_app.dispatch_accounts_event,
    "orders": function_app.dispatch_orders_event,
}
TOPIC_SOURCES = {"hr": "/lob/hr", "finance": "/lob/finance", "accounts": "/lob/accounts", "orders": "/lob/orders"}
USERS = ("alice", "bob", "carmen")
DEVICES = {user: f"poison-{user}-phone" for user in USERS}
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
ADMIN = {"x-dev-user": "ops", "x-dev-roles": "push.admin"}


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


CASES: list[Case] = []
RAISED: list[str] = []


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with running_emulator(EmulatorConfig(hub=HUB)) as base_url:
        yield base_url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def services(azurite_tables: str, emulator_url: str) -> AsyncIterator[Services]:
    """The app's services, with one phone per user (every user follows HR news and hears of every debit)."""
    async with app_services(azurite_tables, emulator_url, HUB) as built:
        for index, user in enumerate(USERS):
            platform, channel = [
                ("apns", uuid.uuid4().hex * 2),
                ("fcmv1", f"fcm_poison_{user}_" + "A" * 40),
                ("wns", f"https://db5p.notify.windows.com/?token=AwYAAAB{user}"),
            ][index]
            body = {"platform": platform, "pushChannel": channel, "language": "en-GB", "interests": ["hr"]}
            registered = await call_http(
                function_app.register_device,
                "PUT",
                f"installations/{DEVICES[user]}",
                headers={"x-dev-user": user},
                route_params={"installationId": DEVICES[user]},
                json_body=body,
            )
            assert registered.status_code == 200, registered.get_body()
            preferences = {"interests": ["hr"], "debitThreshold": "0"}
            updated = await call_http(
                function_app.update_my_preferences, "PUT", "me/preferences", headers={"x-dev-user": user},
                json_body=preferences,
            )  # fmt: skip
            assert updated.status_code == 200, updated.get_body()
        yield built


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
        topic = draw(st.sampled_from([t for t in TRIGGERS if t != topic]))
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


class TestGeneratedMessages:
    @given(sample=messages)
    @settings(
        max_examples=Sizes.from_env().poison_examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    async def test_every_generated_message_is_completed_without_an_exception(
        self, services: Services, sample: tuple[str, tuple[str, dict[str, Any] | bytes, str | None]]
    ):
        kind, (topic, event, content_type) = sample
        case = as_case(kind, topic, event)
        message = service_bus_message(
            case.body, message_id=case.message_id, content_type=content_type, subject="generated"
        )
        try:
            await TRIGGERS[topic].build().get_user_function()(message)
        except Exception as exc:  # the message would be retried until it dead-letters: a finding
            RAISED.append(f"{kind} on {topic}: {type(exc).__name__}: {exc}")
            raise
        CASES.append(case)

    async def test_every_generated_message_ended_as_its_kind_requires_judged_from_outside(
        self, services: Services, emulator_url: str
    ):
        """Runs after the generator: valid events on exactly their devices once, poison quarantined and unsent,
        fuzzed either sent or quarantined; from the emulator and the operator's listing."""
        async with httpx.AsyncClient(timeout=60) as http:
            emulator = {
                path: (await http.get(f"{emulator_url}_emulator/{path}")).json()
                for path in ("notifications", "deliveries", "devices")
            }
        listing = await call_http(
            function_app.list_dead_letters,
            "GET",
            "deadletters",
            headers={"x-dev-user": "ops", "x-dev-roles": "push.admin"},
        )
        assert listing.status_code == 200
        observed = observe(
            emulator["notifications"],
            emulator["deliveries"],
            emulator["devices"],
            json.loads(listing.get_body())["items"],
        )
        verdicts = [(case, judge(case, observed)) for case in CASES]
        problems = [
            f"{case.kind} on {case.topic}: {verdict}; body={case.body[:200]!r}"
            for case, verdict in verdicts
            if verdict != "ok"
        ]
        kinds = Counter(case.kind for case in CASES)
        fuzzed = [case for case in CASES if case.kind == "fuzzed"]
        fuzzed_sent = sum(1 for case in fuzzed if observed.sends.get(case.event_id or "", 0) > 0)
        fuzzed_parked = sum(1 for case in fuzzed if case.message_id in observed.parked)
        BOOK.add_row(
            "Generated messages into the push functions (Hypothesis), judged from the devices and the listing",
            {
                "messages": len(CASES),
                "valid: on exactly their devices once": sum(1 for c, v in verdicts if c.kind == "valid" and v == "ok"),
                "valid": kinds["valid"],
                "poison: quarantined, unsent": sum(1 for c, v in verdicts if c.kind == "poison" and v == "ok"),
                "poison": kinds["poison"],
                "fuzzed: sent to NH": fuzzed_sent,
                "fuzzed: quarantined": fuzzed_parked,
                "fuzzed": kinds["fuzzed"],
                "raised": len(RAISED),
                "wrong end": len(problems),
            },
        )
        assert not RAISED, RAISED[:5]
        assert problems == [], problems[:5]
        assert kinds["valid"] > 0
        assert kinds["poison"] > 0
