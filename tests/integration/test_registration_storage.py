"""Registration on the real Tables adapters (Azurite): the storage requests each kind of PUT makes, counted at the
HTTP transport, and the ownership race through the whole use case."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.adapters.tables import TableInstallationMirror, TablePreferencesStore, TableRowReader
from shared.api.schemas import InstallationRequest
from shared.domain.errors import NotFoundError
from shared.domain.identity import Identity
from shared.domain.tag_policy import nh_user_id
from shared.ports import RegistrationPorts
from shared.usecases.commands import RegisterDevice
from shared.usecases.registration import register_device, unregister_device
from tests.conftest import random_id
from tests.fakes import RecordingPushGateway
from tests.support.azurite import table_service
from tests.support.tables_proxy import SeenRequest, faulty_tables

pytestmark = pytest.mark.integration

ALICE = Identity(user_id="alice")
BOB = Identity(user_id="bob")
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def request(installation_id: str, channel: str = "a" * 64, **extra: Any) -> RegisterDevice:
    body = InstallationRequest.model_validate({"platform": "apns", "pushChannel": channel, **extra})
    return body.to_command(installation_id)


@dataclass
class Recorded:
    ports: RegistrationPorts
    push: RecordingPushGateway
    requests: list[SeenRequest]  # every request that reached the account (through a loopback proxy)

    def since(self, mark: int) -> list[str]:
        """The methods of the requests after ``mark``, table creation left out (once per process)."""
        return [request.method for request in self.requests[mark:] if "/Tables" not in request.path]


@pytest.fixture
async def recorded(azurite_tables: str) -> AsyncIterator[Recorded]:
    prefix = random_id("t")
    # table_service deletes the tables afterwards; the proxy drops nothing and records every request
    async with (
        table_service(azurite_tables, prefix),
        faulty_tables(azurite_tables, lambda _: False) as (service, proxy),
    ):
        push = RecordingPushGateway()
        reader = TableRowReader.for_service(service)
        ports = RegistrationPorts(
            push=push,
            installations=TableInstallationMirror(service, prefix, reader=reader),
            preferences=TablePreferencesStore(service, prefix, reader=reader),
            now=lambda: NOW,
        )
        yield Recorded(ports, push, proxy.seen)
        await reader.close()


class TestStorageRequestsPerRegistration:
    async def test_unchanged_refresh_makes_two_reads_and_no_write(self, recorded: Recorded) -> None:
        installation_id = random_id("dev-")
        first = await register_device(recorded.ports, ALICE, request(installation_id, interests=["hr"]))
        mark = len(recorded.requests)
        again = await register_device(recorded.ports, ALICE, request(installation_id, interests=["hr"]))
        assert sorted(recorded.since(mark)) == ["GET", "GET"]  # the caller's row and the preferences
        assert again == first
        assert recorded.push.installations[installation_id].push_channel == "a" * 64

    async def test_first_registration_makes_seven_requests(self, recorded: Recorded) -> None:
        """Reads: the caller's row, the preferences, the channel lookup. Writes: the claim (which remembers the
        channel), the row and its channel index (both "pending"), the state "active" after NH.

        The channel lookup runs beside the claim and its writes: when it reads the channel's partition after the
        new index row landed, it finds that row and reads the main row to check it, an eighth request (a GET).
        """
        mark = len(recorded.requests)
        await register_device(recorded.ports, ALICE, request(random_id("dev-")))
        methods = recorded.since(mark)
        assert sorted(method for method in methods if method != "GET") == ["PATCH", "POST", "PUT", "PUT"]
        assert methods.count("GET") in (3, 4)

    async def test_changed_device_is_rewritten(self, recorded: Recorded) -> None:
        installation_id = random_id("dev-")
        await register_device(recorded.ports, ALICE, request(installation_id, language="en"))
        mark = len(recorded.requests)
        record = await register_device(recorded.ports, ALICE, request(installation_id, language="de"))
        assert any(method != "GET" for method in recorded.since(mark))
        assert record.language == "de"
        assert "lang:de" in recorded.push.installations[installation_id].tags
        stored = await recorded.ports.installations.get("alice", installation_id)
        assert stored == record

    async def test_after_an_unregister_the_same_body_registers_again(self, recorded: Recorded) -> None:
        installation_id = random_id("dev-")
        await register_device(recorded.ports, ALICE, request(installation_id))
        await unregister_device(recorded.ports, ALICE, installation_id)
        assert installation_id not in recorded.push.installations
        await register_device(recorded.ports, ALICE, request(installation_id))
        assert installation_id in recorded.push.installations


class TestOwnershipRace:
    async def test_two_users_registering_one_id_at_once_have_exactly_one_winner(self, recorded: Recorded) -> None:
        for _ in range(5):
            installation_id = random_id("dev-")
            outcomes = await asyncio.gather(
                register_device(recorded.ports, ALICE, request(installation_id, channel="a" * 63 + "1")),
                register_device(recorded.ports, BOB, request(installation_id, channel="b" * 63 + "2")),
                return_exceptions=True,
            )
            winners = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
            losers = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
            assert len(winners) == 1
            assert all(isinstance(loser, NotFoundError) for loser in losers)
            assert recorded.push.installations[installation_id].user_id == nh_user_id(winners[0].user_id)
            assert await recorded.ports.installations.find_owner(installation_id) == winners[0].user_id
