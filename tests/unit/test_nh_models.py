"""Installation JSON round trips and the notification factories."""

from __future__ import annotations

import json

import pytest

from shared.notification_hubs import (
    Installation,
    InstallationTemplate,
    NhValidationError,
    PatchOperation,
    apple_notification,
    fcmv1_notification,
    template_notification,
    windows_notification,
)


class TestInstallationWire:
    def test_only_set_fields_go_on_the_wire(self) -> None:
        assert Installation("i", "apns", "h").to_wire() == {
            "installationId": "i",
            "platform": "apns",
            "pushChannel": "h",
        }

    def test_an_installation_survives_a_round_trip(self) -> None:
        installation = Installation(
            "i",
            "fcmv1",
            "token",
            user_id="alice",
            tags=["a", "b"],
            templates={"alert": InstallationTemplate('{"x":"$(y)"}', {"h": "v"}, "0", ["alert"])},
            push_variables={"k": "v"},
        )
        assert Installation.from_wire(installation.to_wire()) == installation

    def test_read_only_fields_are_read_but_only_written_on_request(self) -> None:
        wire = {
            "installationId": "i",
            "platform": "apns",
            "pushChannel": "h",
            "pushChannelExpired": True,
            "expirationTime": "9999-12-31T23:59:59.9999999Z",
        }
        installation = Installation.from_wire(wire)
        assert installation.push_channel_expired is True
        assert "pushChannelExpired" not in installation.to_wire()
        assert installation.to_wire(include_read_only=True) == wire

    def test_nulls_from_dotnet_clients_are_treated_as_absent(self) -> None:
        wire = {"installationId": "i", "platform": "apns", "pushChannel": "h", "userId": None, "tags": None}
        installation = Installation.from_wire(wire)
        assert (installation.user_id, installation.tags) == (None, [])

    def test_a_browser_push_channel_object_is_kept_as_its_json_string(self) -> None:
        channel = {"endpoint": "https://push.example/1", "p256dh": "k", "auth": "a"}
        installation = Installation.from_wire({"installationId": "i", "platform": "browser", "pushChannel": channel})
        assert json.loads(installation.push_channel) == channel

    @pytest.mark.parametrize(
        "wire",
        [
            {"platform": "apns", "pushChannel": "h"},
            {"installationId": "i", "platform": "apns", "pushChannel": "h", "tags": "a"},
            {"installationId": "i", "platform": "apns", "pushChannel": "h", "templates": {"t": {"tags": []}}},
            {"installationId": "i", "platform": "apns", "pushChannel": "h", "pushChannelExpired": "yes"},
            {"installationId": "i", "platform": "apns", "pushChannel": 5},
        ],
    )
    def test_malformed_installation_json_is_refused(self, wire: dict[str, object]) -> None:
        with pytest.raises(NhValidationError):
            Installation.from_wire(wire)


class TestPatchOperation:
    def test_remove_has_no_value_on_the_wire(self) -> None:
        assert PatchOperation("remove", "/userId").to_wire() == {"op": "remove", "path": "/userId"}


class TestFactories:
    def test_template_properties_become_a_compact_json_object(self) -> None:
        notification = template_notification({"title_de": "Grüße", "n": "1"})
        assert notification.body == '{"title_de":"Grüße","n":"1"}'
        assert (notification.format, notification.content_type) == ("template", "application/json;charset=utf-8")

    def test_an_apple_payload_string_is_sent_as_given(self) -> None:
        assert apple_notification('{"aps":{}}').body == '{"aps":{}}'

    def test_fcmv1_messages_are_wrapped_once(self) -> None:
        assert json.loads(fcmv1_notification({"data": {"k": "v"}}).body) == {"message": {"data": {"k": "v"}}}
        assert json.loads(fcmv1_notification({"message": {"data": {}}}).body) == {"message": {"data": {}}}

    @pytest.mark.parametrize(
        ("wns_type", "content_type"),
        [("wns/toast", "application/xml"), ("wns/badge", "application/xml"), ("wns/raw", "application/octet-stream")],
    )
    def test_windows_content_type_follows_the_wns_type(self, wns_type: str, content_type: str) -> None:
        notification = windows_notification("<badge value='1'/>", wns_type)
        assert notification.content_type == content_type
        assert notification.headers == {"X-WNS-Type": wns_type}


class TestPackageExports:
    def test_every_name_in_all_is_importable_once(self) -> None:
        import shared.notification_hubs as nh
        from shared.notification_hubs import errors

        assert len(nh.__all__) == len(set(nh.__all__))
        assert all(hasattr(nh, name) for name in nh.__all__)
        assert set(errors.__all__) <= set(nh.__all__)
