"""Registration use cases with in-memory ports: tags, ownership, hand-over, write order and repair."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.api.schemas import InstallationRequest, PreferencesRequest
from shared.domain.errors import NotFoundError, UpstreamUnavailableError, ValidationError
from shared.domain.identity import Identity
from shared.domain.records import Platform, Preferences
from shared.ports import RegistrationPorts
from shared.usecases.commands import RegisterDevice
from shared.usecases.preferences import update_preferences
from shared.usecases.registration import (
    CONFIRM_AFTER,
    get_device,
    list_devices,
    register_device,
    unregister_device,
)
from tests.fakes import InMemoryInstallationMirror, InMemoryPreferencesStore, RecordingPushGateway

ALICE = Identity(user_id="alice", roles=frozenset({"push.admin"}), departments=("Finance",))
BOB = Identity(user_id="bob")
APNS = "a" * 64
FCM = "fcm-token_" + "x" * 30


def request(installation_id, platform="apns", channel=APNS, **extra) -> RegisterDevice:
    body = InstallationRequest.model_validate({"platform": platform, "pushChannel": channel, **extra})
    return body.to_command(installation_id)


@pytest.fixture
def ports():
    return RegistrationPorts(
        push=RecordingPushGateway(),
        installations=InMemoryInstallationMirror(),
        preferences=InMemoryPreferencesStore(),
        now=lambda: datetime(2026, 11, 22, 12, tzinfo=UTC),
    )


class TestRegisterDevice:
    async def test_assigns_server_side_tags_and_both_templates(self, ports):
        record = await register_device(ports, ALICE, request("dev-1", language="de-AT", interests=["hr"]))
        installation = ports.push.installations["dev-1"]
        assert {"user:alice", "platform:apns", "lang:de", "topic:hr"} <= set(installation.tags)
        assert any(tag.startswith("role:") for tag in installation.tags)
        assert any(tag.startswith("dept:") for tag in installation.tags)
        assert set(installation.templates) == {"alert", "silent"}
        assert "(title_de" in installation.templates["alert"].body
        assert record.state == "active"
        assert record.language == "de"

    async def test_same_body_twice_gives_the_same_result(self, ports):
        first = await register_device(ports, ALICE, request("dev-1", interests=["hr"]))
        second = await register_device(ports, ALICE, request("dev-1", interests=["hr"]))
        assert first == second
        assert len(ports.installations.rows) == 1

    async def test_another_users_installation_id_is_not_found_and_nh_is_untouched(self, ports):
        await register_device(ports, ALICE, request("dev-1"))
        with pytest.raises(NotFoundError) as caught:
            await register_device(ports, BOB, request("dev-1", channel="b" * 64))
        assert str(caught.value) == "installation 'dev-1' is not registered"
        assert ports.push.installations["dev-1"].user_id == "alice"
        assert ports.push.installations["dev-1"].push_channel == APNS
        assert await list_devices(ports, BOB) == []

    async def test_an_invalid_request_claims_nothing(self, ports):
        with pytest.raises(ValidationError):
            await register_device(ports, ALICE, RegisterDevice("dev-1", Platform.APNS, APNS, interests=("gossip",)))
        await register_device(ports, BOB, request("dev-1", channel="b" * 64))
        assert ports.push.installations["dev-1"].user_id == "bob"

    async def test_refuses_interests_that_are_not_catalog_topics(self, ports):
        # The HTTP body model refuses them first; the use case refuses them for every other caller too.
        command = RegisterDevice("dev-1", Platform.APNS, APNS, interests=("hr", "gossip"))
        with pytest.raises(ValidationError) as caught:
            await register_device(ports, ALICE, command)
        assert "gossip" in caught.value.errors[0].message

    async def test_phone_that_changes_hands_leaves_the_previous_owner(self, ports):
        """The same push channel under a new user removes the old registration in NH and the mirror."""
        await register_device(ports, ALICE, request("alice-phone"))
        await register_device(ports, BOB, request("bob-phone"))
        assert "alice-phone" not in ports.push.installations
        assert await ports.installations.get("alice", "alice-phone") is None
        assert [r.installation_id for r in await list_devices(ports, BOB)] == ["bob-phone"]

    async def test_nh_failure_leaves_the_device_listed_as_pending_and_a_repeat_repairs_it(self, ports):
        ports.push.fail_next_put = UpstreamUnavailableError("nh down")
        with pytest.raises(UpstreamUnavailableError):
            await register_device(ports, ALICE, request("dev-1"))
        listed = await list_devices(ports, ALICE)
        assert [(r.installation_id, r.state) for r in listed] == [("dev-1", "pending")]
        await register_device(ports, ALICE, request("dev-1"))
        assert (await get_device(ports, ALICE, "dev-1")).state == "active"
        assert "dev-1" in ports.push.installations

    async def test_mirror_failure_stops_before_nh_is_written(self, ports):
        """Writing the mirror first means a device is never pushed to without being listed."""
        ports.installations.fail_next_upsert = UpstreamUnavailableError("tables down")
        with pytest.raises(UpstreamUnavailableError):
            await register_device(ports, ALICE, request("dev-1"))
        assert ports.push.installations == {}

    async def test_saved_preferences_win_over_the_device_language(self, ports):
        await ports.preferences.put(
            Preferences(user_id="alice", interests=("finance",), language="es", updated_at=ports.now())
        )
        record = await register_device(ports, ALICE, request("dev-1", language="de", interests=["hr"]))
        assert record.language == "es"
        assert record.interests == ("finance",)


class CountingPushGateway(RecordingPushGateway):
    """Counts the installation PUTs NH receives."""

    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    async def create_or_update_installation(self, installation):
        self.puts += 1
        return await super().create_or_update_installation(installation)


class CountingMirror(InMemoryInstallationMirror):
    """Counts every write the mirror receives; ``fail_set_state`` makes the next state change raise."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.fail_set_state: Exception | None = None

    async def claim(self, installation_id, user_id, *, now, push_channel_hash=None):
        self.writes += 1
        return await super().claim(installation_id, user_id, now=now, push_channel_hash=push_channel_hash)

    async def upsert(self, record):
        self.writes += 1
        await super().upsert(record)

    async def set_state(self, user_id, installation_id, state):
        self.writes += 1
        if self.fail_set_state is not None:
            error, self.fail_set_state = self.fail_set_state, None
            raise error
        return await super().set_state(user_id, installation_id, state)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def counted():
    return RegistrationPorts(
        push=CountingPushGateway(),
        installations=CountingMirror(),
        preferences=InMemoryPreferencesStore(),
        now=Clock(),
    )


class TestRefresh:
    async def test_unchanged_device_is_answered_without_any_write_or_nh_call(self, counted):
        first = await register_device(counted, ALICE, request("dev-1", interests=["hr"]))
        writes, puts = counted.installations.writes, counted.push.puts
        counted.now.now += timedelta(hours=1)
        again = await register_device(counted, ALICE, request("dev-1", interests=["hr"]))
        assert (counted.installations.writes - writes, counted.push.puts - puts) == (0, 0)
        assert again == first
        assert counted.push.installations["dev-1"].push_channel == APNS

    async def test_a_changed_device_is_written_to_nh_and_the_mirror_again(self, counted):
        await register_device(counted, ALICE, request("dev-1", language="en"))
        puts = counted.push.puts
        record = await register_device(counted, ALICE, request("dev-1", language="de"))
        assert counted.push.puts == puts + 1
        assert "lang:de" in counted.push.installations["dev-1"].tags
        assert (record.language, record.state) == ("de", "active")
        assert await counted.installations.get("alice", "dev-1") == record

    async def test_a_new_channel_is_a_change(self, counted):
        await register_device(counted, ALICE, request("dev-1"))
        await register_device(counted, ALICE, request("dev-1", channel="c" * 64))
        assert counted.push.installations["dev-1"].push_channel == "c" * 64

    async def test_preferences_saved_since_are_applied_by_the_next_refresh(self, counted):
        await register_device(counted, ALICE, request("dev-1", language="en"))
        await counted.preferences.put(
            Preferences(user_id="alice", interests=("finance",), language="es", updated_at=counted.now())
        )
        record = await register_device(counted, ALICE, request("dev-1", language="en"))
        assert record.language == "es"
        assert "lang:es" in counted.push.installations["dev-1"].tags

    async def test_a_preferences_change_that_failed_in_nh_is_not_mistaken_for_an_unchanged_device(self, counted):
        """NH and the row say "de" after a change; the change back to "en" fails at NH. The saved "en" then matches
        the fingerprint of the first registration, but the row's fields do not: the refresh writes NH again."""
        await register_device(counted, ALICE, request("dev-1", language="en", interests=["hr"]))
        to_de = PreferencesRequest.model_validate({"interests": ["hr"], "language": "de"})
        await update_preferences(counted, ALICE, to_de.to_command())
        failing_patch = UpstreamUnavailableError("nh down")

        async def patch_fails(installation_id, operations):
            raise failing_patch

        counted.push.patch_installation = patch_fails
        to_en = PreferencesRequest.model_validate({"interests": ["hr"], "language": "en"})
        with pytest.raises(UpstreamUnavailableError):
            await update_preferences(counted, ALICE, to_en.to_command())
        puts = counted.push.puts
        record = await register_device(counted, ALICE, request("dev-1", language="en", interests=["hr"]))
        assert counted.push.puts == puts + 1
        assert record.language == "en"
        assert "lang:en" in counted.push.installations["dev-1"].tags

    async def test_after_the_confirmation_window_nh_is_written_again_and_the_row_moves(self, counted):
        """NH gets the installation again (repairs a loss on NH's side) and updated_at moves (the idle sweep)."""
        await register_device(counted, ALICE, request("dev-1"))
        del counted.push.installations["dev-1"]  # lost on NH's side by something outside the app
        counted.now.now += CONFIRM_AFTER
        record = await register_device(counted, ALICE, request("dev-1"))
        assert "dev-1" in counted.push.installations
        assert record.updated_at == counted.now.now

    async def test_a_row_with_an_outdated_fingerprint_takes_the_full_path(self, counted):
        """Templates changed by a release change the installation, so the stored fingerprint no longer matches."""
        await register_device(counted, ALICE, request("dev-1"))
        row = counted.installations.rows[("alice", "dev-1")]
        counted.installations.rows[("alice", "dev-1")] = replace(row, fingerprint="from-an-older-release")
        puts = counted.push.puts
        await register_device(counted, ALICE, request("dev-1"))
        assert counted.push.puts == puts + 1
        assert counted.installations.rows[("alice", "dev-1")].fingerprint != "from-an-older-release"

    async def test_a_crash_between_nh_and_the_final_write_is_repaired_by_the_next_put(self, counted):
        counted.installations.fail_set_state = UpstreamUnavailableError("tables down")
        with pytest.raises(UpstreamUnavailableError):
            await register_device(counted, ALICE, request("dev-1"))
        assert (await get_device(counted, ALICE, "dev-1")).state == "pending"
        puts = counted.push.puts
        record = await register_device(counted, ALICE, request("dev-1"))
        assert counted.push.puts == puts + 1
        assert record.state == "active"
        assert (await get_device(counted, ALICE, "dev-1")).state == "active"

    async def test_a_failed_unregister_leaves_a_row_the_next_refresh_writes_to_nh_again(self, counted):
        """NH lost the device, the mirror kept it: the row says pending, so an unchanged refresh is not trusted."""
        await register_device(counted, ALICE, request("dev-1"))
        fail_after_nh = UpstreamUnavailableError("tables down")

        async def failing_delete(user_id, installation_id):
            raise fail_after_nh

        counted.installations.delete = failing_delete
        with pytest.raises(UpstreamUnavailableError):
            await unregister_device(counted, ALICE, "dev-1")
        assert "dev-1" not in counted.push.installations
        await register_device(counted, ALICE, request("dev-1"))
        assert "dev-1" in counted.push.installations

    async def test_a_row_removed_during_the_registration_is_listed_again(self, counted):
        """A removal that lands between the NH PUT and the state change: NH may hold the device, so it stays listed."""
        original = counted.installations.set_state

        async def removed_first(user_id, installation_id, state):
            counted.installations.rows.pop((user_id, installation_id), None)
            return await original(user_id, installation_id, state)

        counted.installations.set_state = removed_first
        record = await register_device(counted, ALICE, request("dev-1"))
        assert record.state == "pending"
        assert [r.installation_id for r in await list_devices(counted, ALICE)] == ["dev-1"]


class TestReadAndDelete:
    async def test_another_users_device_reads_and_deletes_like_a_missing_one(self, ports):
        await register_device(ports, ALICE, request("dev-1"))
        answers = []
        for caller, installation_id in ((BOB, "dev-1"), (BOB, "never-registered")):
            for operation in (get_device, unregister_device):
                with pytest.raises(NotFoundError) as caught:
                    await operation(ports, caller, installation_id)
                answers.append(str(caught.value).replace(installation_id, "ID"))
        assert len(set(answers)) == 1
        assert "dev-1" in ports.push.installations
        assert ports.push.deleted == []

    async def test_missing_device_is_not_found(self, ports):
        with pytest.raises(NotFoundError):
            await get_device(ports, ALICE, "nope")

    async def test_delete_removes_nh_then_mirror_and_frees_the_id(self, ports):
        await register_device(ports, ALICE, request("dev-1"))
        await unregister_device(ports, ALICE, "dev-1")
        assert ports.push.installations == {}
        assert await list_devices(ports, ALICE) == []
        with pytest.raises(NotFoundError):
            await unregister_device(ports, ALICE, "dev-1")  # a repeat: already gone
        await register_device(ports, BOB, request("dev-1", channel="b" * 64))
        assert ports.push.installations["dev-1"].user_id == "bob"

    async def test_a_claim_left_without_a_row_is_cleaned_by_its_owners_delete(self, ports):
        """A crash between the claim and the first mirror write: the owner's DELETE frees the id."""
        await ports.installations.claim("dev-1", "alice", now=ports.now())
        with pytest.raises(NotFoundError):
            await get_device(ports, ALICE, "dev-1")
        await unregister_device(ports, ALICE, "dev-1")
        assert await ports.installations.find_owner("dev-1") is None


class TestPreferences:
    async def test_changing_preferences_patches_every_device(self, ports):
        await register_device(ports, ALICE, request("phone", interests=["hr"]))
        await register_device(ports, ALICE, request("tablet", platform="fcmv1", channel=FCM, interests=["hr"]))
        body = PreferencesRequest.model_validate({"interests": ["finance"], "language": "de"})
        await update_preferences(ports, ALICE, body.to_command())
        patched = {installation_id: ops for installation_id, ops in ports.push.patches}
        assert set(patched) == {"phone", "tablet"}
        for operations in patched.values():
            paths = {(op.op, op.path, op.value) for op in operations}
            assert ("remove", "/tags/topic:hr", None) in paths
            assert ("add", "/tags", "topic:finance") in paths
            assert ("add", "/tags", "lang:de") in paths
            assert any(op.path == "/templates/alert" for op in operations)
        for record in await list_devices(ports, ALICE):
            assert "topic:finance" in record.tags
            assert "topic:hr" not in record.tags
            assert record.language == "de"
