"""Generated CloudEvents and Service Bus messages into the push functions (function level, in process, real
ServiceBusMessage objects, Azurite and the NH emulator): every one ends pushed, skipped with a reason, or
quarantined with a reason; none raises (without injected faults no transient upstream error can occur)."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.functions.servicebus import ServiceBusMessage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import function_app
from local.nh_emulator.config import EmulatorConfig
from local.nh_emulator.testing import running_emulator
from shared.composition.services import Services
from shared.domain.catalog import CATALOG
from shared.domain.errors import UpstreamUnavailableError
from shared.domain.events import event_key
from shared.domain.identity import Identity
from shared.domain.records import DeliveryState, Platform
from shared.domain.simulated_events import simulate_event
from shared.notification_hubs.errors import NhRetryableError
from shared.usecases.commands import RegisterDevice
from shared.usecases.delivery import IncomingMessage, quarantine_id
from shared.usecases.registration import register_device
from tests.reliability.report import BOOK
from tests.reliability.sizes import Sizes
from tests.support.services import app_services

pytestmark = pytest.mark.reliability

HUB = "function-tier"
TRIGGERS = {
    "hr": function_app.dispatch_hr_event,
    "finance": function_app.dispatch_finance_event,
    "accounts": function_app.dispatch_accounts_event,
    "orders": function_app.dispatch_orders_event,
}
USERS = ("alice", "bob", "carmen")
OUTCOMES: Counter[str] = Counter()
PROBLEMS: list[str] = []


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with running_emulator(EmulatorConfig(hub=HUB)) as base_url:
        yield base_url


@pytest.fixture
async def services(azurite_tables: str, emulator_url: str) -> AsyncIterator[Services]:
    async with app_services(azurite_tables, emulator_url, HUB) as built:
        # Every recipient the generator addresses has a phone, so a valid one-user event is pushed, not skipped.
        for number, user in enumerate(USERS):
            device = RegisterDevice(f"poison-{user}", Platform.APNS, f"{number:x}" * 64, language="en")
            await register_device(built.registration, Identity(user_id=user), device)
        yield built


# ------------------------------------------------------------------------------------------- strategies

_json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def catalog_events(draw: st.DrawFn) -> dict[str, Any]:
    """A plausible event of any catalogued type, then some of its data fields replaced by arbitrary JSON."""
    event_type = draw(st.sampled_from(sorted(CATALOG)))
    event = simulate_event(
        event_type, random.Random(draw(st.integers(0, 2**32))), now=datetime.now(UTC), user_ids=USERS
    )
    event["id"] = draw(st.uuids().map(str) | st.text(min_size=1, max_size=60))
    for key in draw(st.lists(st.sampled_from(sorted(event["data"])), unique=True, max_size=3)):
        event["data"][key] = draw(json_values | st.text(max_size=300))
    if draw(st.booleans()):
        del_key = draw(st.sampled_from(["specversion", "source", "type", "datacontenttype", "time", "data"]))
        event.pop(del_key, None)
    if draw(st.integers(0, 9)) == 0:
        event["type"] = draw(st.sampled_from(sorted(CATALOG)))  # possibly on the wrong topic now
    return event


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, ServiceBusMessage]:
    """A message on some push subscription: a (mutated) CloudEvent, arbitrary JSON, or arbitrary bytes."""
    topic = draw(st.sampled_from(sorted(TRIGGERS)))
    kind = draw(st.sampled_from(["event", "event", "event", "json", "bytes"]))
    content_type: str | None = "application/cloudevents+json; charset=utf-8"
    if kind == "event":
        event = draw(catalog_events())
        topic = CATALOG[event["type"]].topic if "type" in event and draw(st.integers(0, 4)) else topic
        body = json.dumps(event, ensure_ascii=draw(st.booleans())).encode()
    elif kind == "json":
        body = json.dumps(draw(json_values)).encode()
    else:
        body = draw(st.binary(max_size=300))
    if draw(st.integers(0, 5)) == 0:
        content_type = draw(st.none() | st.sampled_from(["application/json", "text/plain", "application/xml"]))
    message = ServiceBusMessage(
        body=body,
        message_id=draw(st.uuids().map(str)),
        content_type=content_type,
        subject=draw(st.none() | st.text(max_size=40)),
        application_properties={},
        user_properties={},
        delivery_count=1,
        enqueued_time_utc=datetime.now(UTC),
    )
    return topic, message


# ---------------------------------------------------------------------------------------------- outcome


def _event_key(body: bytes) -> str | None:
    """The delivery-log key of the event in ``body``: its source and id."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    source, value = parsed.get("source"), parsed.get("id")
    return event_key(source, value) if isinstance(source, str) and isinstance(value, str) else None


async def outcome_of(services: Services, topic: str, message: ServiceBusMessage) -> str:
    """``pushed``/``skipped: reason``/``quarantined: reason``, ``raised ...`` or ``unaccounted``."""
    try:
        await TRIGGERS[topic].build().get_user_function()(message)
    except (NhRetryableError, UpstreamUnavailableError) as exc:
        return f"transient {type(exc).__name__}"
    except Exception as exc:  # any other exception would abandon the message until it dead-letters: a finding
        return f"raised {type(exc).__name__}: {str(exc)[:200]}"
    incoming = IncomingMessage(topic, "push", message.message_id, b"")
    parked = await services.quarantine.get(quarantine_id(incoming))
    if parked is not None:
        return f"quarantined: {parked.reason}"
    key = _event_key(message.get_body())
    record = await services.deliveries.get(key, "push") if key else None
    if record is not None and record.state is DeliveryState.SENT:
        return "pushed"
    if record is not None and record.state is DeliveryState.SKIPPED:
        return f"skipped: {record.outcome}"
    return "unaccounted"


class TestGeneratedMessages:
    @given(sample=messages())
    @settings(
        max_examples=Sizes.from_env().poison_examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    async def test_every_generated_message_is_pushed_skipped_or_quarantined_with_a_reason(
        self, services: Services, sample: tuple[str, ServiceBusMessage]
    ):
        topic, message = sample
        outcome = await outcome_of(services, topic, message)
        OUTCOMES[outcome.split(":")[0] if outcome.startswith("raised") else outcome] += 1
        if outcome.startswith(("raised", "transient", "unaccounted")):
            PROBLEMS.append(f"{topic}: {outcome}; body={message.get_body()[:300]!r}")
        assert not outcome.startswith(("raised", "transient", "unaccounted")), (topic, outcome, message.get_body())

    def test_the_generated_messages_reached_every_outcome(self):
        """Runs after the generator: the mix must have produced pushes and quarantines, or it proved little."""
        BOOK.add_row(
            "Generated messages into the push functions (Hypothesis)",
            {"messages": sum(OUTCOMES.values()), **{k: v for k, v in sorted(OUTCOMES.items())}},
        )
        assert OUTCOMES["pushed"] > 0
        assert any(key.startswith("quarantined") for key in OUTCOMES)
