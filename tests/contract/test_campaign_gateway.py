"""What campaigns need from Notification Hubs, through the app's gateway against the NH emulator over loopback:
sends to named installations through one template, scheduled sends and their cancellation, per-message telemetry,
and dead channels (the emulator's model of a PNS refusing a handle NH still has)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from local.nh_emulator.config import FULL_RULE_NAME, WELL_KNOWN_FULL_KEY, EmulatorConfig, connection_string
from local.nh_emulator.testing import running_emulator
from shared.adapters.nh_gateway import NotificationHubsGateway
from shared.domain.campaign_content import campaign_properties
from shared.domain.campaigns import CampaignContent, Recipient, target_expression
from shared.domain.device_templates import templates_for
from shared.domain.errors import NotFoundError
from shared.domain.records import Platform
from shared.notification_hubs import Installation, NotificationHubsClient, template_notification

pytestmark = pytest.mark.contract

HUB = "campaigns"
CONTENT = CampaignContent({"en": "Outage", "es": "Interrupción"}, {"en": "Payments down", "es": "Pagos caídos"}, "en")
WNS = "https://db5p.notify.windows.com/?token=AwYAAAB"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_emulator(EmulatorConfig(hub=HUB, scheduler_interval=0.05)) as url:
        yield url


@pytest.fixture
async def admin(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as http:
        (await http.delete("/_emulator/state")).raise_for_status()
        yield http


@pytest.fixture
async def gateway(base_url: str, admin: httpx.AsyncClient) -> AsyncIterator[NotificationHubsGateway]:
    client = NotificationHubsClient(connection_string(base_url, FULL_RULE_NAME, WELL_KNOWN_FULL_KEY), HUB)
    try:
        yield NotificationHubsGateway(client)
    finally:
        await client.aclose()


async def install(
    gateway: NotificationHubsGateway, installation_id: str, platform: Platform, language: str
) -> Recipient:
    unique = hashlib.sha256(installation_id.encode()).hexdigest()
    channel = {Platform.APNS: unique, Platform.FCMV1: f"fcm_{unique}", Platform.WNS: f"{WNS}{unique}"}[platform]
    tags = [f"user:{installation_id}", "topic:hr"]
    await gateway.create_or_update_installation(
        Installation(installation_id, platform.value, channel, tags=tags, templates=templates_for(platform, language))
    )
    return Recipient(installation_id, installation_id, platform, language)


async def _first_push(admin: httpx.AsyncClient, installation_id: str, *, deadline: datetime) -> list[dict]:
    """The device's inbox as soon as it holds something (polled every 20 ms); fails at ``deadline``."""
    while not (received := await inbox(admin, installation_id)):
        assert datetime.now(UTC) < deadline, f"nothing reached {installation_id} by {deadline.isoformat()}"
        await asyncio.sleep(0.02)
    return received


async def inbox(admin: httpx.AsyncClient, installation_id: str) -> list[dict]:
    response = await admin.get(f"/_emulator/inbox/{installation_id}")
    response.raise_for_status()
    return list(response.json())


NOTIFICATION = template_notification(campaign_properties("c0123", CONTENT))


class TestTargetedSends:
    async def test_a_send_reaches_the_named_installations_once_each_in_their_language(self, gateway, admin):
        named = [
            await install(gateway, "es-android", Platform.FCMV1, "es"),
            await install(gateway, "en-iphone", Platform.APNS, "en"),
        ]
        await install(gateway, "bystander", Platform.FCMV1, "en")
        result = await gateway.send(NOTIFICATION, tag_expression=target_expression(named, "alert"))
        assert result.notification_id
        [spanish] = await inbox(admin, "es-android")
        [english] = await inbox(admin, "en-iphone")
        assert spanish["templateName"] == english["templateName"] == "alert"
        assert json.loads(spanish["payload"])["message"]["notification"]["title"] == "Interrupción"
        assert json.loads(english["payload"])["aps"]["alert"]["title"] == "Outage"
        assert await inbox(admin, "bystander") == []


class TestScheduledSends:
    async def test_a_scheduled_send_fires_at_its_time_and_has_telemetry_under_its_id(self, gateway, admin):
        named = [await install(gateway, "p1", Platform.FCMV1, "en")]
        at = datetime.now(UTC) + timedelta(seconds=1)
        scheduled = await gateway.schedule(NOTIFICATION, at, tag_expression=target_expression(named, "alert"))
        assert scheduled.scheduled_id
        assert await inbox(admin, "p1") == []
        received = await _first_push(admin, "p1", deadline=at + timedelta(seconds=10))
        assert datetime.now(UTC) >= at, "the scheduled send arrived before its time"
        assert len(received) == 1
        details = await gateway.get_notification_details(scheduled.scheduled_id)
        assert details.state == "Completed"
        assert details.outcome_counts == {"fcmv1": {"Success": 1}}

    async def test_a_cancelled_scheduled_send_never_fires_and_cannot_be_cancelled_twice(self, gateway, admin):
        named = [await install(gateway, "p2", Platform.FCMV1, "en")]
        at = datetime.now(UTC) + timedelta(seconds=1)
        scheduled = await gateway.schedule(NOTIFICATION, at, tag_expression=target_expression(named, "alert"))
        await gateway.cancel_scheduled(scheduled.scheduled_id)
        with pytest.raises(NotFoundError):
            await gateway.cancel_scheduled(scheduled.scheduled_id)
        # "Never fires" can only be seen once its time has passed: wait out the due time (and a margin), no longer.
        await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 0.5)
        assert await inbox(admin, "p2") == []
        assert (await gateway.get_notification_details(scheduled.scheduled_id)).state == "Cancelled"

    async def test_telemetry_of_an_unknown_notification_is_not_found(self, gateway):
        with pytest.raises(NotFoundError):
            await gateway.get_notification_details("nope")


class TestDeadChannels:
    @pytest.mark.parametrize(
        ("platform", "outcome"),
        [(Platform.FCMV1, "ExpiredChannel"), (Platform.WNS, "BadChannel"), (Platform.APNS, "WrongToken")],
    )
    async def test_a_refused_channel_shows_in_telemetry_and_nh_marks_it_expired(
        self, gateway, admin, platform, outcome
    ):
        dead = await install(gateway, "dead", platform, "en")
        alive = await install(gateway, "alive", platform, "en")
        marked = await admin.post("/_emulator/installations/dead/dead-channel", json={"outcome": outcome})
        assert marked.status_code == 204
        assert not (await gateway.get_installation("dead")).push_channel_expired  # NH does not know yet
        result = await gateway.send(NOTIFICATION, tag_expression=target_expression([dead, alive], "alert"))
        details = await gateway.get_notification_details(result.notification_id)
        assert details.outcome_counts == {platform.value: {outcome: 1, "Success": 1}}
        assert (await gateway.get_installation("dead")).push_channel_expired
        assert not (await gateway.get_installation("alive")).push_channel_expired
        assert await inbox(admin, "dead") == []
        again = await gateway.send(NOTIFICATION, tag_expression=target_expression([dead, alive], "alert"))
        details = await gateway.get_notification_details(again.notification_id)
        assert details.outcome_counts == {platform.value: {"Success": 1}}  # NH no longer sends to it

    async def test_a_new_registration_of_the_installation_brings_a_live_channel(self, gateway, admin):
        await install(gateway, "phone", Platform.FCMV1, "en")
        await admin.post("/_emulator/installations/phone/dead-channel")
        await gateway.send(NOTIFICATION, tag_expression="$InstallationId:{phone} && alert")
        assert (await gateway.get_installation("phone")).push_channel_expired
        await gateway.create_or_update_installation(
            Installation(
                "phone", "fcmv1", "fcm_a_fresh_token_0123456789", templates=templates_for(Platform.FCMV1, "en")
            )
        )
        assert not (await gateway.get_installation("phone")).push_channel_expired
        await gateway.send(NOTIFICATION, tag_expression="$InstallationId:{phone} && alert")
        assert len(await inbox(admin, "phone")) == 1

    async def test_the_switch_refuses_unknown_installations_and_outcomes(self, gateway, admin):
        assert (await admin.post("/_emulator/installations/ghost/dead-channel")).status_code == 404
        await install(gateway, "phone", Platform.FCMV1, "en")
        assert (
            await admin.post("/_emulator/installations/phone/dead-channel", json={"outcome": "Nope"})
        ).status_code == 400
