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
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings

import function_app
from local.nh_emulator.config import EmulatorConfig
from local.nh_emulator.testing import running_emulator
from shared.composition import root as bootstrap
from shared.composition.services import Services
from tests.reliability.ledger import observe
from tests.reliability.poison_messages import DEVICES, USERS, Case, as_case, judge, messages
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
ADMIN = {"x-dev-user": "ops", "x-dev-roles": "push.admin"}
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


@pytest.fixture(autouse=True)
def _module_services(services: Services) -> Iterator[None]:
    """Every test calls the functions with the module's services: the composition root is reset before each test
    (tests/conftest.py), which forgets the services the module fixture plugged in."""
    with bootstrap.override(services):
        yield


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
