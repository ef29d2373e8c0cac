"""Campaign planning: waves by user, time-zone groups, NH sends of five, keys, states and target expressions."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.audience import Audience
from shared.domain.campaign_plan import first_possible_due, plan_at, plan_waves, send_key
from shared.domain.campaigns import (
    HANDOFF_LEAD,
    Campaign,
    CampaignContent,
    CampaignSend,
    CampaignState,
    LocalTime,
    Recipient,
    SendState,
    WavePolicy,
    campaign_state,
    target_expression,
)
from shared.domain.records import Platform
from shared.notification_hubs.tag_expressions import parse_tag_expression
from shared.notification_hubs.tag_matching import matches

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def recipients(users: int, devices_per_user: int = 1) -> list[Recipient]:
    return [
        Recipient(f"u{user:03d}", f"u{user:03d}-d{device}", Platform.FCMV1, "en")
        for user in range(users)
        for device in range(devices_per_user)
    ]


class TestWaves:
    def test_without_waves_everyone_is_one_wave_due_at_the_send_time(self):
        plan = plan_waves("c1", 1, recipients(12), now=NOW, send_at=NOW + timedelta(hours=1), policy=None)
        [wave] = plan.waves
        assert (wave.index, wave.due, wave.weight, wave.installations, wave.users) == (
            1, NOW + timedelta(hours=1), None, 12, 12,
        )  # fmt: skip
        assert [len(send.recipients) for send in plan.sends] == [5, 5, 2]

    def test_waves_take_their_share_of_users_and_follow_each_other_by_the_pause(self):
        policy = WavePolicy((10, 40, 50), timedelta(minutes=30))
        plan = plan_waves("c1", 1, recipients(20), now=NOW, send_at=None, policy=policy)
        assert [(w.weight, w.users) for w in plan.waves] == [(10, 2), (40, 8), (50, 10)]
        assert [w.due for w in plan.waves] == [NOW, NOW + timedelta(minutes=30), NOW + timedelta(hours=1)]
        assert {send.due for send in plan.sends if send.wave == 3} == {NOW + timedelta(hours=1)}

    def test_every_recipient_is_in_exactly_one_send(self):
        plan = plan_waves("c1", 1, recipients(23, 2), now=NOW, send_at=None, policy=WavePolicy((30, 70), timedelta(0)))
        reached = Counter(r.installation_id for send in plan.sends for r in send.recipients)
        assert set(reached.values()) == {1}
        assert len(reached) == 46

    def test_all_devices_of_a_user_are_in_the_same_wave(self):
        plan = plan_waves("c1", 1, recipients(9, 3), now=NOW, send_at=None, policy=WavePolicy((50, 50), timedelta(0)))
        wave_of_user: dict[str, set[int]] = {}
        for send in plan.sends:
            for r in send.recipients:
                wave_of_user.setdefault(r.user_id, set()).add(send.wave)
        assert all(len(waves) == 1 for waves in wave_of_user.values())

    def test_the_order_is_stable_for_a_campaign_and_differs_between_campaigns(self):
        policy = WavePolicy((50, 50), timedelta(0))

        def first_wave(campaign_id: str) -> set[str]:
            plan = plan_waves(campaign_id, 1, recipients(40), now=NOW, send_at=None, policy=policy)
            return {r.user_id for send in plan.sends if send.wave == 1 for r in send.recipients}

        assert first_wave("c1") == first_wave("c1")
        assert first_wave("c1") != first_wave("c2")

    def test_an_empty_audience_still_has_its_waves(self):
        plan = plan_waves("c1", 1, [], now=NOW, send_at=None, policy=WavePolicy((50, 50), timedelta(minutes=5)))
        assert [w.installations for w in plan.waves] == [0, 0]
        assert plan.sends == ()

    def test_weights_must_be_positive(self):
        with pytest.raises(ValueError, match="positive"):
            plan_waves("c1", 1, recipients(3), now=NOW, send_at=None, policy=WavePolicy((50, 0), timedelta(0)))

    @pytest.mark.parametrize(
        ("weights", "users"),
        [((1, 1), [10, 10]), ((50, 40), [11, 9]), ((1, 2, 1), [5, 10, 5]), ((3,), [20]), ((1,) * 10, [2] * 10)],
    )
    def test_a_wave_s_share_is_its_weight_over_the_sum(self, weights, users):
        plan = plan_waves("c1", 1, recipients(20), now=NOW, send_at=None, policy=WavePolicy(weights, timedelta(0)))
        assert [w.users for w in plan.waves] == users

    @pytest.mark.parametrize("percents", [(100,), (10, 40, 50), (33, 33, 34), (1, 99), (25, 25, 25, 25)])
    @pytest.mark.parametrize("audience", [0, 1, 7, 23, 100])
    def test_weights_summing_to_100_split_as_percents_always_did(self, percents, audience):
        plan = plan_waves(
            "c1", 1, recipients(audience), now=NOW, send_at=None, policy=WavePolicy(percents, timedelta(0))
        )
        bounds = [round(total * audience / 100) for total in itertools.accumulate(percents)]  # the former rule
        lows = [0, *bounds[:-1]]
        assert [w.users for w in plan.waves] == [high - low for low, high in zip(lows, bounds, strict=True)]

    def test_a_send_time_in_the_past_means_now(self):
        plan = plan_waves("c1", 1, recipients(1), now=NOW, send_at=NOW - timedelta(minutes=3), policy=None)
        assert plan.waves[0].due == NOW

    def test_send_keys_sort_by_plan_wave_and_send(self):
        plan = plan_waves("c1", 7, recipients(30), now=NOW, send_at=None, policy=WavePolicy((50, 50), timedelta(0)))
        keys = [send.key for send in plan.sends]
        assert keys == sorted(keys)
        assert keys[0] == send_key(7, 1, 0) == "v0007-w0001-s000000"


class TestLocalTime:
    def test_each_zone_gets_the_wall_clock_time_and_unknown_users_the_fallback(self):
        at = LocalTime(datetime(2026, 3, 3, 9, 0), "Europe/Madrid")
        zones = {"u000": "Asia/Tokyo", "u001": "America/New_York"}
        plan = plan_waves("c1", 1, recipients(3), now=NOW, send_at=None, policy=None, local_time=at, zones=zones)
        by_zone = {w.time_zone: w.due for w in plan.waves}
        assert by_zone == {
            "Asia/Tokyo": datetime(2026, 3, 3, 0, 0, tzinfo=UTC),
            "Europe/Madrid": datetime(2026, 3, 3, 8, 0, tzinfo=UTC),
            "America/New_York": datetime(2026, 3, 3, 14, 0, tzinfo=UTC),
        }
        assert [w.index for w in plan.waves] == [1, 2, 3]  # numbered in the order they are due

    def test_a_zone_where_the_time_has_passed_is_due_now(self):
        at = LocalTime(datetime(2026, 3, 2, 9, 0), "UTC")
        plan = plan_waves(
            "c1", 1, recipients(2), now=NOW, send_at=None, policy=None, local_time=at, zones={"u000": "Asia/Tokyo"}
        )
        assert {w.time_zone: w.due for w in plan.waves} == {"Asia/Tokyo": NOW, "UTC": NOW + timedelta(hours=1)}

    def test_waves_split_each_zone(self):
        at = LocalTime(datetime(2026, 3, 3, 9, 0), "UTC")
        zones = {f"u{n:03d}": "Asia/Tokyo" for n in range(0, 10, 2)}
        plan = plan_waves(
            "c1", 1, recipients(10), now=NOW, send_at=None, policy=WavePolicy((40, 60), timedelta(hours=1)),
            local_time=at, zones=zones,
        )  # fmt: skip
        assert [(w.time_zone, w.weight, w.users) for w in plan.waves] == [
            ("Asia/Tokyo", 40, 2), ("Asia/Tokyo", 60, 3), ("UTC", 40, 2), ("UTC", 60, 3),
        ]  # fmt: skip

    def test_the_audience_is_resolved_before_the_earliest_zone_is_due(self):
        at = LocalTime(datetime(2026, 3, 3, 9, 0), "UTC")
        assert first_possible_due(None, at, NOW) == datetime(2026, 3, 2, 19, 0, tzinfo=UTC)  # 09:00 at UTC+14
        assert plan_at(None, at, NOW) == datetime(2026, 3, 2, 19, 0, tzinfo=UTC) - HANDOFF_LEAD


class TestPlanAt:
    def test_a_send_now_is_planned_now(self):
        assert plan_at(None, None, NOW) == NOW

    def test_a_later_send_is_planned_shortly_before(self):
        assert plan_at(NOW + timedelta(days=30), None, NOW) == NOW + timedelta(days=30) - HANDOFF_LEAD


def campaign(**changes) -> Campaign:
    base = Campaign(
        id="c1", created_by="ops", created_at=NOW, fingerprint="f", audience=Audience(expression="topic:hr"),
        content=CampaignContent({"en": "T"}, {"en": "B"}, "en"), send_at=None, local_time=None, wave_policy=None,
        plan_at=NOW, next_check=NOW,
    )  # fmt: skip
    return replace(base, **changes)


def send(state: SendState, due: datetime = NOW, wave: int = 1) -> CampaignSend:
    return CampaignSend("c1", f"v0001-w{wave:04d}-s000000", 1, wave, due, tuple(recipients(1)), state=state)


class TestCampaignState:
    def test_unplanned_is_scheduled(self):
        assert campaign_state(campaign(), [], NOW) is CampaignState.SCHEDULED

    def test_cancelled_stays_cancelled(self):
        assert (
            campaign_state(campaign(state=CampaignState.CANCELLED), [send(SendState.SENT)], NOW)
            is CampaignState.CANCELLED
        )

    def test_nh_scheduled_sends_count_as_sent_once_their_time_has_come(self):
        later = NOW + timedelta(minutes=5)
        planned = campaign(plan_version=1)
        assert campaign_state(planned, [send(SendState.SCHEDULED, later)], NOW) is CampaignState.SCHEDULED
        assert campaign_state(planned, [send(SendState.SCHEDULED, later)], later) is CampaignState.SENT

    def test_some_out_and_some_not_is_sending(self):
        sends = [send(SendState.SENT), send(SendState.PLANNED, NOW + timedelta(hours=1), wave=2)]
        assert campaign_state(campaign(plan_version=1), sends, NOW) is CampaignState.SENDING

    def test_a_due_send_not_yet_handed_over_is_sending(self):
        assert campaign_state(campaign(plan_version=1), [send(SendState.PLANNED)], NOW) is CampaignState.SENDING

    def test_all_failed_is_failed_and_partly_failed_is_sent(self):
        planned = campaign(plan_version=1)
        assert campaign_state(planned, [send(SendState.FAILED)], NOW) is CampaignState.FAILED
        assert campaign_state(planned, [send(SendState.FAILED), send(SendState.SENT)], NOW) is CampaignState.SENT

    def test_an_empty_audience_is_sent(self):
        assert campaign_state(campaign(plan_version=1), [], NOW) is CampaignState.SENT


class TestTargetExpression:
    def test_reaches_exactly_the_named_installations_through_one_template(self):
        expression = target_expression(recipients(5), "alert")
        parsed = parse_tag_expression(expression)  # within NH's limits: 5 ids and the template
        assert matches(parsed, ["$InstallationId:{u003-d0}", "alert"])
        assert not matches(parsed, ["$InstallationId:{u003-d0}", "silent"])
        assert not matches(parsed, ["$InstallationId:{u999-d0}", "alert"])

    def test_more_than_five_do_not_fit_in_one_send(self):
        with pytest.raises(ValueError, match="1 to 5"):
            target_expression(recipients(6), "alert")
