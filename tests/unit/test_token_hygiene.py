"""Token hygiene: which outcomes make installations suspects, NH's flag decides, idle installations are swept."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from shared.domain.campaigns import Recipient
from shared.domain.records import InstallationRecord, Platform
from shared.notification_hubs.models import Installation
from shared.usecases.token_hygiene import (
    DEFAULT_IDLE_AFTER,
    dead_channel_platforms,
    remove_dead_channels,
    sweep_idle_installations,
)
from tests.fakes import InMemoryInstallationMirror, RecordingPushGateway

NOW = datetime(2026, 7, 1, tzinfo=UTC)


def installed(mirror: InMemoryInstallationMirror, push: RecordingPushGateway, user: str, iid: str, updated: datetime):
    mirror.rows[(user, iid)] = InstallationRecord(
        user, iid, Platform.FCMV1, "h", "abcdef", "en", (), (f"user:{user}",), "active", updated, updated
    )
    push.installations[iid] = Installation(iid, "fcmv1", f"token-{iid}")


class TestDeadChannelPlatforms:
    def test_only_platforms_with_a_dead_channel_outcome(self):
        outcomes = {"apns": {"Success": 3}, "fcmv1": {"Success": 1, "ExpiredChannel": 2}, "wns": {"BadChannel": 1}}
        assert dead_channel_platforms(outcomes) == {"fcmv1", "wns"}

    def test_unknown_error_makes_suspects_because_nh_reports_dead_fcm_v1_tokens_so(self):
        assert dead_channel_platforms({"fcmv1": {"UnknownError": 1}}) == {"fcmv1"}

    def test_throttling_and_zero_counts_do_not(self):
        assert dead_channel_platforms({"apns": {"Throttled": 4, "ExpiredChannel": 0}}) == set()


class TestRemoveDeadChannels:
    async def test_removes_only_the_suspects_nh_marks_expired(self):
        mirror, push = InMemoryInstallationMirror(), RecordingPushGateway()
        installed(mirror, push, "a", "a1", NOW - timedelta(days=1))
        installed(mirror, push, "b", "b1", NOW - timedelta(days=1))
        push.installations["b1"].push_channel_expired = True
        suspects = [Recipient("a", "a1", Platform.FCMV1, "en"), Recipient("b", "b1", Platform.FCMV1, "en")]
        assert await remove_dead_channels(push, mirror, suspects, sent_at=NOW) == ["b1"]
        assert list(mirror.rows) == [("a", "a1")]
        assert push.deleted == ["b1"]

    async def test_an_installation_nh_no_longer_has_is_left_alone(self):
        mirror, push = InMemoryInstallationMirror(), RecordingPushGateway()
        installed(mirror, push, "a", "a1", NOW - timedelta(days=1))
        del push.installations["a1"]
        assert await remove_dead_channels(push, mirror, [Recipient("a", "a1", Platform.FCMV1, "en")], sent_at=NOW) == []
        assert ("a", "a1") in mirror.rows


class TestIdleSweep:
    async def test_removes_installations_idle_longer_than_the_limit_from_nh_and_the_mirror(self):
        mirror, push = InMemoryInstallationMirror(), RecordingPushGateway()
        installed(mirror, push, "old", "old-1", NOW - DEFAULT_IDLE_AFTER - timedelta(days=1))
        installed(mirror, push, "fresh", "fresh-1", NOW - DEFAULT_IDLE_AFTER + timedelta(days=1))
        report = await sweep_idle_installations(push, mirror, NOW, DEFAULT_IDLE_AFTER)
        assert (report.checked, report.removed) == (2, ("old-1",))
        assert list(mirror.rows) == [("fresh", "fresh-1")]
        assert "old-1" not in push.installations

    async def test_a_refresh_keeps_an_installation(self):
        mirror, push = InMemoryInstallationMirror(), RecordingPushGateway()
        installed(mirror, push, "u", "u-1", NOW - timedelta(days=400))
        mirror.rows[("u", "u-1")] = replace(mirror.rows[("u", "u-1")], updated_at=NOW - timedelta(days=3))
        assert (await sweep_idle_installations(push, mirror, NOW, DEFAULT_IDLE_AFTER)).removed == ()
