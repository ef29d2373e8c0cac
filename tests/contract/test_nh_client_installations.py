"""The NH client's installation operations on the wire: PUT, PATCH, GET and DELETE, checked against NH-REST.md."""

from __future__ import annotations

import json

import pytest

from shared.notification_hubs import (
    Installation,
    NhNotFoundError,
    NhRequestError,
    PatchOperation,
)
from tests.contract.fake_hub import (
    DATA,
    FakeHub,
    assert_common_headers,
    installation,
    nh_reply,
    query_of,
)

pytestmark = pytest.mark.contract


class TestInstallations:
    async def test_put_sends_the_installation_json_when_creating_or_replacing(self, client_for) -> None:
        hub = FakeHub(nh_reply(200))
        result = await client_for(hub).create_or_update_installation(installation())
        request = hub.last
        assert request.method == "PUT"
        assert request.url.path == "/myhub/installations/inst-1"
        assert query_of(request) == "api-version=2020-06"
        assert request.headers["Content-Type"] == "application/json"
        assert_common_headers(request)
        assert json.loads(request.content) == {
            "installationId": "inst-1",
            "platform": "apns",
            "pushChannel": "62BC1E03A5D5C3AE",
            "userId": "alice",
            "tags": ["user:alice", "lang:en"],
            "templates": {"alert": {"body": '{"aps":{"alert":"$(title_en)"}}', "tags": ["alert"]}},
        }
        assert (result.tracking_id, result.correlation_id) == ("tracking-from-nh", "correlation-1")

    async def test_put_leaves_out_read_only_fields_when_the_installation_came_from_a_get(self, client_for) -> None:
        hub = FakeHub(nh_reply(200))
        read = Installation.from_wire(json.loads((DATA / "nh_installation_get.json").read_text()))
        await client_for(hub).create_or_update_installation(read)
        body = json.loads(hub.last.content)
        assert "pushChannelExpired" not in body
        assert "expirationTime" not in body
        assert body["templates"]["Template Name"]["expiry"] == "2018-11-07T16:18:32.6641371-08:00"

    async def test_put_fails_when_nh_answers_anything_but_200(self, client_for) -> None:
        with pytest.raises(NhRequestError) as caught:
            await client_for(FakeHub(nh_reply(201))).create_or_update_installation(installation())
        assert caught.value.status_code == 201

    async def test_patch_sends_a_json_patch_when_updating(self, client_for) -> None:
        hub = FakeHub(nh_reply(200))
        operations = [
            PatchOperation("add", "/tags", "topic:hr"),
            PatchOperation("remove", "/tags/topic:finance"),
            PatchOperation("replace", "/pushChannel", "new-channel"),
        ]
        await client_for(hub).patch_installation("inst-1", operations)
        request = hub.last
        assert request.method == "PATCH"
        assert request.url.path == "/myhub/installations/inst-1"
        assert request.headers["Content-Type"] == "application/json-patch+json"
        assert_common_headers(request)
        assert json.loads(request.content) == [
            {"op": "add", "path": "/tags", "value": "topic:hr"},
            {"op": "remove", "path": "/tags/topic:finance"},
            {"op": "replace", "path": "/pushChannel", "value": "new-channel"},
        ]

    async def test_get_reads_the_json_body_when_nh_labels_it_xml(self, client_for) -> None:
        body = (DATA / "nh_installation_get.json").read_bytes()
        hub = FakeHub(nh_reply(200, body=body))
        got = await client_for(hub).get_installation("08c8a8c5-3c17-4a2b-9a4e-2f5f1b1d7c3a")
        assert hub.last.method == "GET"
        assert hub.last.url.path == "/myhub/installations/08c8a8c5-3c17-4a2b-9a4e-2f5f1b1d7c3a"
        assert hub.last.content == b""
        assert got.platform == "apns"
        assert got.push_channel_expired is False
        assert got.expiration_time == "9999-12-31T23:59:59.9999999Z"
        assert got.tags == ["tag1"]
        assert got.push_variables == {"var1": "value1"}
        assert got.templates["Template Name"].tags == ["Template Name"]
        assert got.user_id == "d798e1c7-2a6f-4c8e-9a3f-0e4b5c6d7e8f"

    async def test_get_raises_not_found_with_nh_detail_when_the_installation_is_missing(self, client_for) -> None:
        hub = FakeHub(nh_reply(404, body=(DATA / "nh_error_installation_not_found.xml").read_bytes()))
        with pytest.raises(NhNotFoundError) as caught:
            await client_for(hub).get_installation("missing")
        assert caught.value.detail is not None
        assert caught.value.detail.startswith("Installation not found.")
        assert caught.value.tracking_id == "tracking-from-nh"

    async def test_get_raises_request_error_when_the_body_is_not_an_installation(self, client_for) -> None:
        with pytest.raises(NhRequestError, match="unreadable"):
            await client_for(FakeHub(nh_reply(200, body=b"<oops/>"))).get_installation("inst-1")

    @pytest.mark.parametrize("status", [204, 404])
    async def test_delete_succeeds_when_nh_deleted_it_or_it_was_already_gone(self, client_for, status: int) -> None:
        hub = FakeHub(nh_reply(status))
        result = await client_for(hub).delete_installation("inst-1")
        assert hub.last.method == "DELETE"
        assert hub.last.url.path == "/myhub/installations/inst-1"
        assert_common_headers(hub.last)
        assert result.tracking_id == "tracking-from-nh"

    async def test_installation_ids_are_escaped_in_the_path_when_they_hold_a_hash(self, client_for) -> None:
        hub = FakeHub(nh_reply(204))
        await client_for(hub).delete_installation("dev#1@x")
        assert hub.last.url.raw_path.decode() == "/myhub/installations/dev%231@x?api-version=2020-06"
