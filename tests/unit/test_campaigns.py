"""Campaign use cases on in-memory ports: accept (idempotently), run (plan, waves, NH scheduled sends, telemetry,
dead channels), cancel, and resume after a crash without sending a wave twice."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta

import pytest

from shared.domain.audience import parse_audience_expression, parse_user_list
from shared.domain.campaigns import CampaignContent, CampaignState, LocalTime, SendState, WavePolicy
from shared.domain.errors import (
    ConflictError,
    PushRejectedError,
    UpstreamError,
    UpstreamUnavailableError,
    ValidationError,
)
from shared.domain.identity import Identity
from shared.domain.records import InstallationRecord, Platform, Preferences, QuietHours
from shared.domain.tag_policy import tags_for_installation
from shared.notification_hubs.models import Installation, NotificationDetails
from shared.ports import CampaignPorts
from shared.usecases.campaign_runner import run_campaigns
from shared.usecases.campaigns import cancel_campaign, create_campaign, get_campaign, list_campaigns
from shared.usecases.commands import SendCampaign
from tests.fakes import (
    InMemoryCampaignStore,
    InMemoryInstallationMirror,
    InMemoryPreferencesStore,
    InMemorySecureContentStore,
    RecordingPushGateway,
)

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
OPS = Identity("ops", roles=frozenset({"push.admin"}))
INSTALLATION_TAG = re.compile(r"\$InstallationId:\{([^}]+)\}")


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    """The campaign ports, all in memory, with a clock the test moves."""

    clock: Clock = field(default_factory=Clock)
    push: RecordingPushGateway = field(default_factory=RecordingPushGateway)
    mirror: InMemoryInstallationMirror = field(default_factory=InMemoryInstallationMirror)
    preferences: InMemoryPreferencesStore = field(default_factory=InMemoryPreferencesStore)
    store: InMemoryCampaignStore = field(default_factory=InMemoryCampaignStore)
    inbox: InMemorySecureContentStore = field(default_factory=InMemorySecureContentStore)

    @property
    def ports(self) -> CampaignPorts:
        return CampaignPorts(
            push=self.push,
            installations=self.mirror,
            preferences=self.preferences,
            campaigns=self.store,
            secure_content=self.inbox,
            now=self.clock,
            concurrency=1,
        )

    def register(self, user: str, installation: str, platform: Platform = Platform.FCMV1, language: str = "en") -> None:
        tags = tags_for_installation(user, platform, language, ("hr",), (), ())
        self.mirror.rows[(user, installation)] = InstallationRecord(
            user, installation, platform, f"hash-{installation}", "abcdef", language, ("hr",), tuple(tags), "active",
            T0 - timedelta(days=1), T0 - timedelta(days=1),
        )  # fmt: skip
        self.push.installations[installation] = Installation(installation, platform.value, f"token-{installation}")

    def reached(self) -> list[str]:
        """Installation ids NH was asked to reach, once per send (duplicates show a wave sent twice)."""
        return [found for _, expression in self.push.sends for found in INSTALLATION_TAG.findall(expression or "")]


@pytest.fixture
def world() -> World:
    return World()


def command(**changes) -> SendCampaign:
    values = {
        "audience": parse_audience_expression("topic:hr"),
        "content": CampaignContent(
            {"en": "Outage", "de": "Störung"}, {"en": "Payments down", "de": "Zahlungen gestört"}, "en"
        ),
    }
    values.update(changes)
    return SendCampaign(**values)


class TestCreate:
    async def test_accepting_stores_a_scheduled_campaign_and_sends_nothing(self, world):
        campaign, created = await create_campaign(world.ports, OPS, command())
        assert created
        assert campaign.state is CampaignState.SCHEDULED
        assert campaign.next_check == T0
        assert world.push.sends == []

    async def test_the_same_idempotency_key_returns_the_first_campaign(self, world):
        first, _ = await create_campaign(world.ports, OPS, command(idempotency_key="k-1"))
        world.clock.advance(minutes=5)
        again, created = await create_campaign(world.ports, OPS, command(idempotency_key="k-1"))
        assert (again.id, created) == (first.id, False)
        assert len(await list_campaigns(world.ports)) == 1

    async def test_the_same_key_with_a_different_request_is_refused(self, world):
        await create_campaign(world.ports, OPS, command(idempotency_key="k-1"))
        with pytest.raises(ConflictError, match="different request"):
            await create_campaign(world.ports, OPS, command(idempotency_key="k-1", audience=parse_user_list(["bob"])))

    async def test_keys_belong_to_their_caller(self, world):
        mine, _ = await create_campaign(world.ports, OPS, command(idempotency_key="k-1"))
        theirs, created = await create_campaign(world.ports, Identity("ops2"), command(idempotency_key="k-1"))
        assert created
        assert theirs.id != mine.id

    async def test_a_retry_after_the_send_time_passed_still_gets_the_first_answer(self, world):
        at = T0 + timedelta(minutes=2)
        first, _ = await create_campaign(world.ports, OPS, command(send_at=at, idempotency_key="k-1"))
        world.clock.advance(hours=1)
        again, created = await create_campaign(world.ports, OPS, command(send_at=at, idempotency_key="k-1"))
        assert (again.id, created) == (first.id, False)

    async def test_what_cannot_be_sent_is_refused_before_it_is_stored(self, world):
        with pytest.raises(ValidationError) as caught:
            await create_campaign(world.ports, OPS, command(content=CampaignContent({"fr": "x"}, {"fr": "y"}, "en")))
        assert "/title/fr" in [error.location for error in caught.value.errors]
        assert world.store.campaigns == {}

    async def test_a_send_time_in_the_past_means_now_and_the_answer_says_so(self, world):
        world.register("u1", "u1-phone")
        campaign, _ = await create_campaign(world.ports, OPS, command(send_at=T0 - timedelta(days=400)))
        assert (campaign.send_at, campaign.next_check) == (T0, T0)
        await run_campaigns(world.ports)
        assert world.reached() == ["u1-phone"]

    async def test_a_send_years_ahead_is_accepted_and_held(self, world):
        at = datetime(9998, 12, 31, 23, 59, tzinfo=UTC)
        campaign, _ = await create_campaign(
            world.ports, OPS, command(send_at=at, waves=WavePolicy((1,) * 10, timedelta(days=7)))
        )
        assert (campaign.send_at, campaign.next_check) == (at, at - timedelta(minutes=10))

    async def test_a_local_time_passed_in_some_zones_goes_there_at_once_and_elsewhere_on_time(self, world):
        world.register("madrid", "madrid-phone")
        world.register("new-york", "new-york-phone")
        quiet = QuietHours(time(22, 0), time(7, 0), "Europe/Madrid")
        await world.preferences.put(Preferences("madrid", quiet_hours=quiet))
        await world.preferences.put(Preferences("new-york", quiet_hours=replace(quiet, time_zone="America/New_York")))
        # 09:00 on 4 May has passed in Madrid (07:00 UTC) at T0 (08:00 UTC), not in New York (13:00 UTC).
        await create_campaign(world.ports, OPS, command(local_time=LocalTime(T0.replace(hour=9, tzinfo=None), "UTC")))
        await run_campaigns(world.ports)
        assert world.reached() == ["madrid-phone"]
        assert [due for _, due, _ in world.push.scheduled.values()] == []
        world.clock.now = datetime(2026, 5, 4, 12, 50, tzinfo=UTC)
        await run_campaigns(world.ports)
        assert [due for _, due, _ in world.push.scheduled.values()] == [datetime(2026, 5, 4, 13, 0, tzinfo=UTC)]

    async def test_a_local_time_passed_everywhere_goes_at_once(self, world):
        world.register("u1", "u1-phone")
        campaign, _ = await create_campaign(
            world.ports, OPS, command(local_time=LocalTime(datetime(2001, 1, 1), "UTC"))
        )
        assert campaign.next_check == T0
        await run_campaigns(world.ports)
        assert world.reached() == ["u1-phone"]

    async def test_a_send_beyond_nh_seven_days_is_accepted_and_held_by_the_app(self, world):
        campaign, _ = await create_campaign(world.ports, OPS, command(send_at=T0 + timedelta(days=30)))
        assert campaign.next_check == T0 + timedelta(days=30) - timedelta(minutes=10)
        await run_campaigns(world.ports)
        assert (world.push.sends, world.push.scheduled) == ([], {})


class TestRun:
    async def test_a_send_now_reaches_the_audience_in_sends_of_five_installations(self, world):
        for n in range(7):
            world.register(f"u{n}", f"u{n}-phone")
        campaign, _ = await create_campaign(world.ports, OPS, command())
        report = await run_campaigns(world.ports)
        assert (report.planned, report.handed_off) == (1, 2)
        assert sorted(world.reached()) == sorted(f"u{n}-phone" for n in range(7))
        assert all(expression.endswith(") && alert") for _, expression in world.push.sends)
        properties = json.loads(world.push.sends[0][0].body)
        assert (properties["title_de"], properties["title_es"], properties["eventId"]) == (
            "Störung",
            "Outage",
            campaign.id,
        )
        view = await get_campaign(world.ports, campaign.id)
        assert view.state is CampaignState.SENT
        assert view.campaign.audience_counts.installations == 7

    async def test_a_silent_campaign_uses_the_silent_template(self, world):
        world.register("u1", "u1-phone")
        silent = replace(command().content, template="silent")
        await create_campaign(world.ports, OPS, command(content=silent))
        await run_campaigns(world.ports)
        [(_, expression)] = world.push.sends
        assert expression.endswith("&& silent")

    async def test_a_user_list_reaches_every_device_of_those_users_only(self, world):
        world.register("alice", "alice-phone")
        world.register("alice", "alice-tablet", Platform.APNS)
        world.register("bob", "bob-phone")
        await create_campaign(world.ports, OPS, command(audience=parse_user_list(["alice"])))
        await run_campaigns(world.ports)
        assert sorted(world.reached()) == ["alice-phone", "alice-tablet"]

    async def test_waves_go_out_one_after_the_other_the_later_as_nh_scheduled_sends(self, world):
        for n in range(10):
            world.register(f"u{n}", f"u{n}-phone")
        policy = WavePolicy((50, 50), timedelta(minutes=3))
        campaign, _ = await create_campaign(world.ports, OPS, command(waves=policy))
        await run_campaigns(world.ports)
        assert len(world.reached()) == 5  # the first wave at once
        [(_, due, expression)] = world.push.scheduled.values()
        assert due == T0 + timedelta(minutes=3)  # the second wave held by NH for its exact time
        assert expression.count("$InstallationId") == 5
        view = await get_campaign(world.ports, campaign.id)
        assert view.state is CampaignState.SENDING
        world.clock.advance(minutes=3)
        world.push.fire_due(world.clock.now)
        assert sorted(world.reached()) == sorted(f"u{n}-phone" for n in range(10))
        assert (await get_campaign(world.ports, campaign.id)).state is CampaignState.SENT

    async def test_a_later_wave_beyond_the_handoff_lead_waits_in_the_app(self, world):
        for n in range(4):
            world.register(f"u{n}", f"u{n}-phone")
        campaign, _ = await create_campaign(world.ports, OPS, command(waves=WavePolicy((50, 50), timedelta(hours=2))))
        await run_campaigns(world.ports)
        assert (len(world.reached()), world.push.scheduled) == (2, {})
        handoff = T0 + timedelta(hours=2) - timedelta(minutes=10)
        assert (await world.store.get(campaign.id)).next_check <= handoff
        world.clock.now = handoff - timedelta(minutes=1)
        await run_campaigns(world.ports)
        assert world.push.scheduled == {}
        world.clock.now = handoff
        await run_campaigns(world.ports)
        assert [due for _, due, _ in world.push.scheduled.values()] == [T0 + timedelta(hours=2)]

    async def test_a_send_at_a_later_time_becomes_one_nh_scheduled_send(self, world):
        world.register("u1", "u1-phone")
        at = T0 + timedelta(minutes=4)
        await create_campaign(world.ports, OPS, command(send_at=at))
        await run_campaigns(world.ports)
        assert world.push.sends == []
        assert [due for _, due, _ in world.push.scheduled.values()] == [at]

    async def test_local_time_sends_reach_each_zone_at_its_wall_clock_time(self, world):
        world.register("tokyo", "tokyo-phone")
        world.register("madrid", "madrid-phone")
        world.register("nobody-knows", "unknown-phone")
        quiet = QuietHours(time(22, 0), time(7, 0), "Asia/Tokyo")
        await world.preferences.put(Preferences("tokyo", quiet_hours=quiet))
        await world.preferences.put(Preferences("madrid", quiet_hours=replace(quiet, time_zone="Europe/Madrid")))
        at = LocalTime(datetime(2026, 5, 5, 9, 0), "America/New_York")
        campaign, _ = await create_campaign(world.ports, OPS, command(local_time=at))
        world.clock.now = campaign.plan_at
        await run_campaigns(world.ports)
        view = await get_campaign(world.ports, campaign.id)
        assert {w.time_zone: w.due for w in view.campaign.waves} == {
            "Asia/Tokyo": datetime(2026, 5, 5, 0, 0, tzinfo=UTC),
            "Europe/Madrid": datetime(2026, 5, 5, 7, 0, tzinfo=UTC),
            "America/New_York": datetime(2026, 5, 5, 13, 0, tzinfo=UTC),
        }
        for due in sorted(w.due for w in view.campaign.waves):
            world.clock.now = due - timedelta(minutes=10)
            await run_campaigns(world.ports)
        assert sorted(due for _, due, _ in world.push.scheduled.values()) == sorted(w.due for w in view.campaign.waves)

    async def test_a_sensitive_campaign_fills_the_inbox_before_a_neutral_push(self, world):
        world.register("alice", "alice-phone", language="de")
        secret = replace(command().content, sensitive=True)
        campaign, _ = await create_campaign(world.ports, OPS, command(content=secret))
        await run_campaigns(world.ports)
        item = world.inbox.items[("alice", campaign.id)]
        assert (item.titles["de"], item.bodies["es"]) == ("Störung", "Payments down")
        pushed = world.push.sends[0][0].body
        assert "Störung" not in pushed
        assert json.loads(pushed)["deepLink"] == f"enterprisepush://notifications/{campaign.id}"

    async def test_a_transient_nh_failure_leaves_the_send_for_the_next_run(self, world):
        world.register("u1", "u1-phone")
        campaign, _ = await create_campaign(world.ports, OPS, command())
        world.push.fail_sends = [UpstreamUnavailableError("throttled", retry_after=1)]
        await run_campaigns(world.ports)
        assert world.push.sends == []
        stored = await world.store.get(campaign.id)
        world.clock.now = stored.next_check
        await run_campaigns(world.ports)
        assert world.reached() == ["u1-phone"]

    async def test_a_permanent_nh_refusal_fails_the_send_and_is_reported(self, world):
        world.register("u1", "u1-phone")
        campaign, _ = await create_campaign(world.ports, OPS, command())
        world.push.fail_sends = [PushRejectedError("403 Forbidden: tier")]
        await run_campaigns(world.ports)
        view = await get_campaign(world.ports, campaign.id)
        assert view.state is CampaignState.FAILED
        assert view.sends[0].detail == "403 Forbidden: tier"

    async def test_a_campaign_that_fails_for_good_does_not_hold_up_the_others(self, world):
        world.register("u1", "u1-phone")
        world.register("u2", "u2-phone")
        await create_campaign(world.ports, OPS, command(audience=parse_user_list(["u1"])))
        world.clock.advance(seconds=1)
        second, _ = await create_campaign(world.ports, OPS, command(audience=parse_user_list(["u2"])))
        original, calls = world.mirror.list_for_user, []

        async def storage_refuses_once(user_id):
            calls.append(user_id)
            if len(calls) == 1:
                raise UpstreamError("Tables refused list installations of a user: 403")
            return await original(user_id)

        world.mirror.list_for_user = storage_refuses_once
        await run_campaigns(world.ports)
        assert world.reached() == ["u2-phone"]  # the second campaign went out
        assert (await get_campaign(world.ports, second.id)).state is CampaignState.SENT
        await run_campaigns(world.ports)
        assert sorted(world.reached()) == ["u1-phone", "u2-phone"]  # the first, on the next run


class TestTelemetryAndDeadChannels:
    async def test_outcomes_are_read_and_a_dead_channel_is_removed_from_nh_and_the_mirror(self, world):
        for name in ("alive", "dead"):
            world.register(name, f"{name}-phone")
        campaign, _ = await create_campaign(world.ports, OPS, command())
        await run_campaigns(world.ports)
        [send] = (await get_campaign(world.ports, campaign.id)).sends
        world.push.installations["dead-phone"].push_channel_expired = True  # NH learnt it from the PNS
        world.push.details[send.notification_id] = details("Completed", {"fcmv1": {"Success": 1, "ExpiredChannel": 1}})
        world.clock.advance(seconds=10)
        report = await run_campaigns(world.ports)
        assert report.removed == 1
        assert ("dead", "dead-phone") not in world.mirror.rows
        assert ("alive", "alive-phone") in world.mirror.rows
        assert world.push.deleted == ["dead-phone"]
        [send] = (await get_campaign(world.ports, campaign.id)).sends
        assert (send.outcomes, send.removed, send.telemetry_final) == (
            {"fcmv1": {"Success": 1, "ExpiredChannel": 1}}, ("dead-phone",), True,
        )  # fmt: skip
        assert (await world.store.get(campaign.id)).next_check is None

    async def test_a_device_registered_again_since_the_send_is_kept(self, world):
        world.register("u1", "u1-phone")
        campaign, _ = await create_campaign(world.ports, OPS, command())
        await run_campaigns(world.ports)
        [send] = (await get_campaign(world.ports, campaign.id)).sends
        world.push.installations["u1-phone"].push_channel_expired = True
        record = world.mirror.rows[("u1", "u1-phone")]
        world.mirror.rows[("u1", "u1-phone")] = replace(record, updated_at=T0 + timedelta(seconds=5))
        world.push.details[send.notification_id] = details("Completed", {"fcmv1": {"ExpiredChannel": 1}})
        world.clock.advance(seconds=10)
        await run_campaigns(world.ports)
        assert ("u1", "u1-phone") in world.mirror.rows

    async def test_telemetry_not_there_yet_is_asked_again_and_given_up_after_a_while(self, world):
        world.register("u1", "u1-phone")
        campaign, _ = await create_campaign(world.ports, OPS, command())
        await run_campaigns(world.ports)
        world.clock.advance(minutes=1)
        await run_campaigns(world.ports)
        stored = await world.store.get(campaign.id)
        assert stored.next_check == world.clock.now + timedelta(seconds=10)
        world.clock.advance(minutes=31)
        await run_campaigns(world.ports)
        [send] = (await get_campaign(world.ports, campaign.id)).sends
        assert (send.telemetry_state, send.telemetry_final) == ("Unavailable", True)
        assert (await world.store.get(campaign.id)).next_check is None


def details(state: str, outcomes: dict[str, dict[str, int]]) -> NotificationDetails:
    return NotificationDetails("n", None, state, None, None, None, None, None, None, outcomes, None)


class TestLimitsPerRun:
    async def test_a_run_hands_over_at_most_its_budget_and_later_waves_wait_for_earlier_ones(self, world):
        for n in range(15):
            world.register(f"u{n:02d}", f"u{n:02d}-phone")
        await create_campaign(world.ports, OPS, command(waves=WavePolicy((67, 33), timedelta(0))))
        ports = replace(world.ports, sends_per_run=1)
        reached_per_run = []
        for _ in range(4):
            await run_campaigns(ports)
            reached_per_run.append(len(world.reached()))
        assert reached_per_run == [5, 10, 15, 15]  # one send per run: wave 1 (two sends) first, then wave 2

    async def test_telemetry_reads_per_run_are_capped(self, world):
        for n in range(10):
            world.register(f"u{n}", f"u{n}-phone")
        campaign, _ = await create_campaign(world.ports, OPS, command())
        await run_campaigns(world.ports)
        for send in (await get_campaign(world.ports, campaign.id)).sends:
            world.push.details[send.notification_id] = details("Completed", {"fcmv1": {"Success": 5}})
        world.clock.advance(seconds=10)
        await run_campaigns(replace(world.ports, telemetry_per_run=1))
        assert sum(s.telemetry_final for s in (await get_campaign(world.ports, campaign.id)).sends) == 1
        world.clock.advance(seconds=10)
        await run_campaigns(replace(world.ports, telemetry_per_run=1))
        assert all(s.telemetry_final for s in (await get_campaign(world.ports, campaign.id)).sends)


class TestCancel:
    async def test_cancelling_before_planning_sends_nothing_ever(self, world):
        world.register("u1", "u1-phone")
        campaign, _ = await create_campaign(world.ports, OPS, command(send_at=T0 + timedelta(days=2)))
        view = await cancel_campaign(world.ports, OPS, campaign.id)
        assert view.state is CampaignState.CANCELLED
        world.clock.advance(days=3)
        await run_campaigns(world.ports)
        assert (world.push.sends, world.push.scheduled) == ([], {})

    async def test_cancelling_takes_back_nh_scheduled_sends_and_planned_waves(self, world):
        for n in range(6):
            world.register(f"u{n}", f"u{n}-phone")
        policy = WavePolicy((34, 33, 33), timedelta(minutes=8))
        campaign, _ = await create_campaign(world.ports, OPS, command(waves=policy))
        await run_campaigns(world.ports)  # wave 1 sent, wave 2 scheduled in NH, wave 3 still with the app
        assert (len(world.reached()), len(world.push.scheduled)) == (2, 1)
        view = await cancel_campaign(world.ports, OPS, campaign.id)
        assert view.state is CampaignState.CANCELLED
        assert world.push.scheduled == {}
        assert len(world.push.cancelled) == 1
        assert {s.wave: s.state for s in view.sends} == {
            1: SendState.SENT,
            2: SendState.CANCELLED,
            3: SendState.CANCELLED,
        }
        world.clock.advance(hours=1)
        await run_campaigns(world.ports)
        world.push.fire_due(world.clock.now)
        assert len(world.reached()) == 2

    async def test_cancelling_twice_is_fine_and_cancelling_what_went_out_is_a_conflict(self, world):
        world.register("u1", "u1-phone")
        later, _ = await create_campaign(world.ports, OPS, command(send_at=T0 + timedelta(hours=1)))
        await cancel_campaign(world.ports, OPS, later.id)
        assert (await cancel_campaign(world.ports, OPS, later.id)).state is CampaignState.CANCELLED
        now, _ = await create_campaign(world.ports, OPS, command())
        await run_campaigns(world.ports)
        with pytest.raises(ConflictError, match="gone out"):
            await cancel_campaign(world.ports, OPS, now.id)

    async def test_a_cancellation_during_a_run_takes_back_what_the_run_scheduled(self, world):
        """The run claims a send, the operator cancels, the run schedules it: the run sees it and cancels it."""
        world.register("u1", "u1-phone")
        campaign, _ = await create_campaign(world.ports, OPS, command(send_at=T0 + timedelta(minutes=5)))
        original = world.push.schedule

        async def schedule_while_cancelled(*args, **kwargs):
            await cancel_campaign(world.ports, OPS, campaign.id)
            return await original(*args, **kwargs)

        world.push.schedule = schedule_while_cancelled
        await run_campaigns(world.ports)
        assert world.push.scheduled == {}
        assert world.push.cancelled == ["s1"]
        assert (await get_campaign(world.ports, campaign.id)).state is CampaignState.CANCELLED


class TestCrashResume:
    async def test_a_crash_mid_wave_resumes_without_sending_anything_twice(self, world):
        """The worker dies while NH is being asked for the third send (before NH took it): after the claim turns
        stale, the next run sends that one and the rest, and every installation is reached exactly once."""
        for n in range(20):
            world.register(f"u{n:02d}", f"u{n:02d}-phone")
        campaign, _ = await create_campaign(world.ports, OPS, command())
        hang = asyncio.Event()
        original = world.push.send

        async def dies_on_the_third(notification, *, tag_expression=None):
            if len(world.push.sends) == 2:
                await hang.wait()  # never set: the process is killed here
            return await original(notification, tag_expression=tag_expression)

        world.push.send = dies_on_the_third
        run = asyncio.create_task(run_campaigns(world.ports))
        await asyncio.sleep(0.05)
        run.cancel()  # the kill
        with pytest.raises(asyncio.CancelledError):
            await run
        world.push.send = original
        assert len(world.reached()) == 10
        await run_campaigns(world.ports)  # the fourth send goes; the third's claim is still fresh, it waits
        assert len(world.reached()) == 15
        [crashed] = [
            send for send in (await get_campaign(world.ports, campaign.id)).sends if send.state is SendState.CLAIMED
        ]
        assert not {r.installation_id for r in crashed.recipients} & set(world.reached())
        world.clock.advance(minutes=2)
        await run_campaigns(world.ports)
        assert sorted(world.reached()) == sorted(f"u{n:02d}-phone" for n in range(20))
        assert (await get_campaign(world.ports, campaign.id)).state is CampaignState.SENT

    async def test_a_crash_after_nh_took_a_send_repeats_that_one_send_only(self, world):
        """The documented window: NH accepted the send, the record never happened (storage went away). The run
        stops there; only that send (five installations) goes out again, with the campaign id as collapse id."""
        for n in range(12):
            world.register(f"u{n:02d}", f"u{n:02d}-phone")
        campaign, _ = await create_campaign(world.ports, OPS, command())
        original = world.store.replace_send
        writes = 0

        async def storage_dies_after_the_second_send(send):
            nonlocal writes
            writes += 1
            if send.state is SendState.SENT and writes >= 4:
                raise UpstreamUnavailableError("Tables down")
            return await original(send)

        world.store.replace_send = storage_dies_after_the_second_send
        await run_campaigns(world.ports)
        world.store.replace_send = original
        world.clock.advance(minutes=2)
        await run_campaigns(world.ports)
        reached = world.reached()
        twice = {installation for installation in reached if reached.count(installation) > 1}
        assert set(reached) == {f"u{n:02d}-phone" for n in range(12)}
        assert len(twice) == 5
        bodies = {json.loads(notification.body)["eventId"] for notification, _ in world.push.sends}
        assert bodies == {campaign.id}
