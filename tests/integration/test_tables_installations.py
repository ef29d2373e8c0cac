"""TableInstallationMirror against Azurite: rows, ownership claims and channel indexes, crashes between writes."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.data.tables.aio import TableServiceClient

from shared.adapters.tables import TableInstallationMirror
from shared.adapters.tables.installations import CHANNELS_TABLE, CLAIMS_TABLE
from shared.domain.errors import UpstreamUnavailableError
from shared.domain.records import InstallationRecord, Platform
from tests.conftest import random_id
from tests.support.azurite import table_service
from tests.support.tables_proxy import SeenRequest, faulty_tables

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)


@dataclass
class Env:
    conn_str: str
    prefix: str
    service: TableServiceClient
    mirror: TableInstallationMirror

    async def rows(self, table: str) -> list[dict[str, Any]]:
        client = self.service.get_table_client(self.prefix + table)
        return [dict(entity) async for entity in client.list_entities()]


@pytest.fixture
async def env(azurite_tables: str) -> AsyncIterator[Env]:
    prefix = random_id("t")
    async with table_service(azurite_tables, prefix) as service:
        mirror = TableInstallationMirror(service, prefix)
        yield Env(azurite_tables, prefix, service, mirror)
        await mirror.close()


def channel_hash(channel: str) -> str:
    return hashlib.sha256(channel.encode()).hexdigest()


def record(user_id: str = "alice", installation_id: str | None = None, channel: str = "chan-1", **changes: Any):
    base = InstallationRecord(
        user_id=user_id,
        installation_id=installation_id or random_id("inst-"),
        platform=Platform.APNS,
        push_channel_hash=channel_hash(channel),
        push_channel_hint=channel[-4:],
        language="de",
        interests=("hr", "finance"),
        tags=("user:alice", "platform:apns", "lang:de", "topic:hr"),
        state="active",
        created_at=T0,
        updated_at=T0,
        fingerprint="f" * 64,
    )
    return replace(base, **changes)


def failing_on(table_name: str, methods: tuple[str, ...]) -> Callable[[SeenRequest], bool]:
    """Requests that write to (or delete from) one table; reads and table creation pass."""

    def pick(request: SeenRequest) -> bool:
        return f"/{table_name}(" in request.path and request.method in methods

    return pick


class TestUpsertGetList:
    async def test_get_returns_what_upsert_wrote_when_the_record_is_new(self, env: Env) -> None:
        written = record()
        await env.mirror.upsert(written)

        assert await env.mirror.get("alice", written.installation_id) == written
        assert await env.mirror.list_for_user("alice") == [written]
        assert written in await env.mirror.list_all()

    async def test_upsert_replaces_the_row_when_called_again(self, env: Env) -> None:
        first = record()
        await env.mirror.upsert(first)
        await env.mirror.upsert(first)
        second = replace(first, language="es", tags=("user:alice",), interests=(), updated_at=T0 + timedelta(hours=1))
        await env.mirror.upsert(second)

        assert await env.mirror.list_for_user("alice") == [second]

    async def test_set_state_changes_only_the_state_of_an_existing_row(self, env: Env) -> None:
        written = record(state="pending")
        await env.mirror.upsert(written)
        assert await env.mirror.set_state("alice", written.installation_id, "active") is True
        assert await env.mirror.get("alice", written.installation_id) == replace(written, state="active")

    async def test_set_state_creates_no_row_where_there_is_none(self, env: Env) -> None:
        assert await env.mirror.set_state("alice", "gone", "active") is False
        assert await env.mirror.get("alice", "gone") is None

    async def test_a_claim_made_with_its_channel_remembers_it_and_a_delete_cleans_everything(self, env: Env) -> None:
        written = record()
        assert await env.mirror.claim(
            written.installation_id, "alice", now=T0, push_channel_hash=written.push_channel_hash
        )
        await env.mirror.upsert(written)
        assert [row.get("PushChannelHash") for row in await env.rows(CLAIMS_TABLE)] == [written.push_channel_hash]
        await env.mirror.delete("alice", written.installation_id)
        assert await env.rows(CHANNELS_TABLE) == []
        assert await env.rows(CLAIMS_TABLE) == []

    async def test_claim_and_write_writes_nothing_for_another_users_id(self, env: Env) -> None:
        taken = record(user_id="bob")
        assert await env.mirror.claim(taken.installation_id, "bob", now=T0)
        assert await env.mirror.claim_and_write(replace(taken, user_id="alice"), None) is False
        assert await env.mirror.list_all() == []
        assert await env.mirror.find_by_channel(taken.push_channel_hash) == []
        assert await env.mirror.find_owner(taken.installation_id) == "bob"

    async def test_claim_and_write_moves_an_owned_installation_to_its_new_channel(self, env: Env) -> None:
        before = record(channel="old")
        assert await env.mirror.claim_and_write(before, None)
        moved = replace(before, push_channel_hash=channel_hash("new"), updated_at=T0 + timedelta(minutes=1))
        assert await env.mirror.claim_and_write(moved, before)
        assert await env.mirror.get("alice", before.installation_id) == moved
        assert [row["PartitionKey"] for row in await env.rows(CHANNELS_TABLE)] == [channel_hash("new")]
        assert [row["PushChannelHash"] for row in await env.rows(CLAIMS_TABLE)] == [channel_hash("new")]

    async def test_get_returns_none_when_the_installation_is_unknown(self, env: Env) -> None:
        assert await env.mirror.get("alice", "nope") is None
        assert await env.mirror.list_for_user("nobody") == []

    async def test_ids_with_characters_forbidden_in_keys_round_trip(self, env: Env) -> None:
        written = record(user_id="bob#1/dept?x\\y", installation_id="inst#1")
        await env.mirror.upsert(written)

        assert await env.mirror.get("bob#1/dept?x\\y", "inst#1") == written
        assert await env.mirror.find_owner("inst#1") == "bob#1/dept?x\\y"
        assert await env.mirror.list_for_user("bob#1/dept?x\\y") == [written]

    async def test_list_for_user_keeps_users_apart(self, env: Env) -> None:
        alice, bob = record("alice"), record("bob")
        await env.mirror.upsert(alice)
        await env.mirror.upsert(bob)

        assert await env.mirror.list_for_user("alice") == [alice]
        assert sorted(r.user_id for r in await env.mirror.list_all()) == ["alice", "bob"]


class TestDelete:
    async def test_delete_removes_the_row_and_its_index_rows(self, env: Env) -> None:
        written = record()
        await env.mirror.upsert(written)
        await env.mirror.delete("alice", written.installation_id)

        assert await env.mirror.get("alice", written.installation_id) is None
        assert await env.mirror.find_owner(written.installation_id) is None
        assert await env.mirror.find_by_channel(written.push_channel_hash) == []
        assert await env.rows(CLAIMS_TABLE) == []
        assert await env.rows(CHANNELS_TABLE) == []

    async def test_delete_is_idempotent_when_already_gone(self, env: Env) -> None:
        written = record()
        await env.mirror.upsert(written)
        await env.mirror.delete("alice", written.installation_id)
        await env.mirror.delete("alice", written.installation_id)
        await env.mirror.delete("never", "existed")

        assert await env.mirror.list_all() == []


class TestClaims:
    async def test_the_first_claim_wins_and_its_owner_may_claim_again(self, env: Env) -> None:
        assert await env.mirror.claim("dev-1", "alice", now=T0)
        assert await env.mirror.claim("dev-1", "alice", now=T0)
        assert not await env.mirror.claim("dev-1", "bob", now=T0)
        assert await env.mirror.find_owner("dev-1") == "alice"

    async def test_concurrent_claims_by_two_users_have_exactly_one_winner(self, env: Env) -> None:
        ids = [random_id("race-") for _ in range(30)]
        answers = await asyncio.gather(*(env.mirror.claim(i, user, now=T0) for i in ids for user in ("alice", "bob")))
        for index, installation_id in enumerate(ids):
            alice, bob = answers[2 * index], answers[2 * index + 1]
            assert alice != bob
            assert await env.mirror.find_owner(installation_id) == ("alice" if alice else "bob")
        assert len(await env.rows(CLAIMS_TABLE)) == len(ids)

    async def test_the_owners_delete_frees_the_id(self, env: Env) -> None:
        written = record("alice")
        assert await env.mirror.claim(written.installation_id, "alice", now=T0)
        await env.mirror.upsert(written)
        await env.mirror.delete("alice", written.installation_id)
        assert await env.mirror.claim(written.installation_id, "bob", now=T0)

    async def test_a_row_without_a_claim_gets_one_on_its_next_upsert(self, env: Env) -> None:
        """Rows written before claims existed: the app's next registration of the device claims it."""
        written = record("carol")
        await env.mirror.upsert(written)
        assert await env.mirror.find_owner(written.installation_id) == "carol"
        assert not await env.mirror.claim(written.installation_id, "mallory", now=T0)


class TestIndexes:
    async def test_find_owner_names_the_user_when_the_installation_exists(self, env: Env) -> None:
        written = record("carol")
        await env.mirror.upsert(written)

        assert await env.mirror.find_owner(written.installation_id) == "carol"
        assert await env.mirror.find_owner("unknown") is None

    async def test_an_upsert_never_takes_another_users_claim(self, env: Env) -> None:
        assert await env.mirror.claim("shared-device", "alice", now=T0)
        await env.mirror.upsert(record("bob", installation_id="shared-device"))
        assert await env.mirror.find_owner("shared-device") == "alice"
        await env.mirror.delete("bob", "shared-device")  # bob's delete leaves alice's claim
        assert await env.mirror.find_owner("shared-device") == "alice"

    async def test_find_by_channel_returns_every_installation_on_the_handle(self, env: Env) -> None:
        alice, bob = record("alice", channel="same"), record("bob", channel="same")
        await env.mirror.upsert(alice)
        await env.mirror.upsert(bob)
        await env.mirror.upsert(record("carol", channel="other"))

        found = await env.mirror.find_by_channel(channel_hash("same"))

        assert sorted(found, key=lambda r: r.user_id) == [alice, bob]

    async def test_moving_to_a_new_channel_drops_the_old_channel_row(self, env: Env) -> None:
        before = record(channel="old")
        await env.mirror.upsert(before)
        await env.mirror.upsert(replace(before, push_channel_hash=channel_hash("new")))

        assert await env.mirror.find_by_channel(channel_hash("old")) == []
        assert [r.installation_id for r in await env.mirror.find_by_channel(channel_hash("new"))] == [
            before.installation_id
        ]
        assert [row["PartitionKey"] for row in await env.rows(CHANNELS_TABLE)] == [channel_hash("new")]


class TestCrashBetweenWrites:
    async def test_new_installation_is_listed_for_its_owner_when_index_writes_fail(self, env: Env) -> None:
        written = record()
        broken = faulty_tables(env.conn_str, failing_on(env.prefix + CHANNELS_TABLE, ("PUT", "PATCH", "MERGE")))
        async with broken as (service, _):
            with pytest.raises(UpstreamUnavailableError):
                await TableInstallationMirror(service, env.prefix).upsert(written)

        assert await env.mirror.list_for_user("alice") == [written]
        assert await env.mirror.find_owner(written.installation_id) is None  # owner row is written last

        await env.mirror.upsert(written)  # the client's retry repairs the indexes
        assert await env.mirror.find_owner(written.installation_id) == "alice"
        assert await env.mirror.find_by_channel(written.push_channel_hash) == [written]

    async def test_stale_channel_row_is_ignored_then_removed_when_a_move_was_interrupted(self, env: Env) -> None:
        before = record(channel="old")
        await env.mirror.upsert(before)
        moved = replace(before, push_channel_hash=channel_hash("new"), updated_at=T0 + timedelta(minutes=1))
        broken = faulty_tables(env.conn_str, failing_on(env.prefix + CHANNELS_TABLE, ("DELETE",)))
        async with broken as (service, _):
            with pytest.raises(UpstreamUnavailableError):
                await TableInstallationMirror(service, env.prefix).upsert(moved)

        assert len(await env.rows(CHANNELS_TABLE)) == 2  # the old row is stale now
        assert await env.mirror.find_by_channel(channel_hash("old")) == []
        assert await env.mirror.find_by_channel(channel_hash("new")) == [moved]
        assert await env.mirror.find_owner(before.installation_id) == "alice"

        await env.mirror.upsert(moved)  # the owner row still remembers the old channel
        assert [row["PartitionKey"] for row in await env.rows(CHANNELS_TABLE)] == [channel_hash("new")]

    async def test_interrupted_delete_hides_the_installation_and_a_retry_cleans_up(self, env: Env) -> None:
        written = record()
        await env.mirror.upsert(written)
        broken = faulty_tables(env.conn_str, failing_on(env.prefix + CHANNELS_TABLE, ("DELETE",)))
        async with broken as (service, _):
            with pytest.raises(UpstreamUnavailableError):
                await TableInstallationMirror(service, env.prefix).delete("alice", written.installation_id)

        assert await env.mirror.list_for_user("alice") == []
        assert await env.mirror.find_owner(written.installation_id) == "alice"  # the id stays hers until cleaned
        assert await env.mirror.find_by_channel(written.push_channel_hash) == []

        await env.mirror.delete("alice", written.installation_id)
        assert await env.mirror.find_owner(written.installation_id) is None
        assert await env.rows(CHANNELS_TABLE) == []
        assert await env.rows(CLAIMS_TABLE) == []
