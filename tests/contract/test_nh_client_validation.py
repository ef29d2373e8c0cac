"""The NH client refuses invalid input before any request leaves it, naming the place at fault."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.notification_hubs import (
    Installation,
    InstallationTemplate,
    NhValidationError,
    Notification,
    NotificationHubsClient,
    PatchOperation,
    apple_notification,
    fcmv1_notification,
    template_notification,
    windows_notification,
)
from tests.contract.fake_hub import (
    NOW,
    FakeHub,
    created,
)

pytestmark = pytest.mark.contract


TEMPLATE = template_notification({"a": "b"})
IN_8_DAYS = datetime.fromtimestamp(NOW, UTC) + timedelta(days=8)


Call = Callable[[NotificationHubsClient], Awaitable[object]]


def put(**fields: Any) -> Call:
    values = {"installation_id": "i", "platform": "apns", "push_channel": "h", **fields}
    return lambda client: client.create_or_update_installation(Installation(**values))


def send(notification: Notification, tag_expression: str | None = None) -> Call:
    return lambda client: client.send(notification, tag_expression=tag_expression)


class TestClientSideValidation:
    """Each case must raise NhValidationError naming the place at fault, with no request sent."""

    @pytest.mark.parametrize(
        ("call", "where"),
        [
            (put(installation_id="bad id"), "installationId"),
            (put(platform="nokia"), "platform"),
            (put(tags=["bad tag"]), "tags"),
            (put(tags=[f"t{n}" for n in range(61)]), "tags"),
            (put(templates={"t": InstallationTemplate(body='{"a": ')}), "templates/t/body"),
            (put(templates={"t": InstallationTemplate(body='{"a": "$(x"}')}), "templates/t/body"),
            (put(platform="wns", templates={"t": InstallationTemplate(body='{"a": "b"}')}), "templates/t/body"),
            (put(push_variables={"v": "x" * 70_000}), "body"),
            (lambda c: c.get_installation("a/b"), "installation_id"),
            (lambda c: c.delete_installation("a b"), "installation_id"),
            (lambda c: c.patch_installation("i", []), "patch"),
            (lambda c: c.patch_installation("i", [PatchOperation("move", "/tags", "x")]), "patch[0]/op"),  # type: ignore[arg-type]
            (lambda c: c.patch_installation("i", [PatchOperation("add", "/colour", "x")]), "patch[0]/path"),
            (lambda c: c.patch_installation("i", [PatchOperation("add", "/tags", "bad tag")]), "patch[0]/value"),
            (lambda c: c.patch_installation("i", [PatchOperation("add", "/tags")]), "patch[0]/value"),
            (send(TEMPLATE, "a &&"), "ServiceBusNotification-Tags"),
            (send(TEMPLATE, " && ".join(f"t{n}" for n in range(7))), "ServiceBusNotification-Tags"),
            (send(TEMPLATE, " || ".join(f"t{n}" for n in range(21))), "ServiceBusNotification-Tags"),
            (send(template_notification({"a": "x" * 70_000})), "body"),
            (send(fcmv1_notification({"data": {"badge": 3}})), "message/data/badge"),
            (send(fcmv1_notification({"android": {"data": {"x": True}}})), "android/data/x"),
            (send(fcmv1_notification({"token": "t"})), "message/token"),
            (send(Notification("windows", "<toast/>", "application/xml")), "X-WNS-Type"),
            (send(Notification("windows", "<toast>", "application/xml", {"X-WNS-Type": "wns/toast"})), "body"),
            (
                send(Notification("windows", "<toast/>", "application/json", {"X-WNS-Type": "wns/toast"})),
                "content_type",
            ),
            (send(Notification("fcm", "{}", "application/json")), "format"),
            (
                send(apple_notification({"aps": {}}, {"ServiceBusNotification-Tags": "x"})),
                "ServiceBusNotification-Tags",
            ),
            (send(apple_notification({"aps": {}}, {"Authorization": "x"})), "Authorization"),
            (send(Notification("template", '{"a": 1}', "application/json")), "body/a"),
            (send(Notification("apple", "[1]", "application/json")), "body"),
            (lambda c: c.send_direct(TEMPLATE, ""), "handle"),
            (lambda c: c.send_direct_batch(TEMPLATE, []), "handles"),
            (lambda c: c.send_direct_batch(TEMPLATE, [f"h{n}" for n in range(1001)]), "handles"),
            (lambda c: c.schedule(TEMPLATE, IN_8_DAYS), "schedule_time"),
            (lambda c: c.schedule(TEMPLATE, datetime(2030, 1, 1)), "schedule_time"),
            (lambda c: c.cancel_scheduled(""), "scheduled_id"),
            (lambda c: c.get_notification_details("a/b"), "notification_id"),
        ],
    )
    async def test_invalid_input_raises_before_any_request(self, client_for, call, where: str) -> None:
        hub = FakeHub(created())
        with pytest.raises(NhValidationError) as caught:
            await call(client_for(hub))
        assert where in str(caught.value)
        assert hub.requests == []

    def test_template_properties_must_be_strings(self) -> None:
        with pytest.raises(NhValidationError, match="badge"):
            template_notification({"badge": 3})  # type: ignore[dict-item]

    def test_unknown_wns_types_are_refused(self) -> None:
        with pytest.raises(NhValidationError, match="X-WNS-Type"):
            windows_notification("<toast/>", "wns/banner")
