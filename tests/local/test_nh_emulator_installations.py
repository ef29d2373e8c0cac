"""The NH emulator's installation routes: PUT/PATCH/GET/DELETE semantics, validation, consistency, persistence."""

from __future__ import annotations

import json

import httpx
import pytest

from local.nh_emulator.config import EmulatorConfig
from local.nh_emulator.testing import authorization, running_emulator
from tests.support.stack import poll

pytestmark = pytest.mark.local

HUB = "enterprise-push"
VERSION = "?api-version=2020-06"
ALERT = '{"aps":{"alert":{"title":"$(title_en)","body":"$(body_en)"}}}'


def installation(installation_id: str = "dev-1", **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "installationId": installation_id,
        "platform": "apns",
        "pushChannel": "aa11",
        "userId": "alice",
        "tags": ["lang:en", "topic:hr"],
        "templates": {"alert": {"body": ALERT}},
    }
    body.update(overrides)
    return body


def put(hub: httpx.Client, body: dict[str, object], installation_id: str = "dev-1") -> httpx.Response:
    return hub.put(f"installations/{installation_id}{VERSION}", json=body)


def patch(hub: httpx.Client, operations: list[dict[str, str]], installation_id: str = "dev-1") -> httpx.Response:
    return hub.patch(
        f"installations/{installation_id}{VERSION}",
        content=json.dumps(operations),
        headers={"Content-Type": "application/json-patch+json"},
    )


def get(hub: httpx.Client, installation_id: str = "dev-1") -> httpx.Response:
    return hub.get(f"installations/{installation_id}{VERSION}")


class TestPutAndGet:
    def test_put_answers_200_with_empty_body_when_the_installation_is_valid(self, hub):
        response = put(hub, installation())
        assert response.status_code == 200
        assert response.content == b""
        assert response.headers["TrackingId"]

    def test_get_returns_the_json_under_nh_xml_content_type_when_it_exists(self, hub):
        put(hub, installation())
        response = get(hub)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/xml")
        body = response.json()
        assert body["userId"] == "alice"
        assert body["tags"] == ["lang:en", "topic:hr"]
        assert body["pushChannelExpired"] is False
        assert body["templates"]["alert"]["tags"] == ["alert"], "NH adds the template name as a tag"

    def test_get_answers_404_installation_not_found_when_it_does_not_exist(self, hub):
        response = get(hub, "missing")
        assert response.status_code == 404
        assert "<Detail>Installation not found.TrackingId:" in response.text

    def test_put_accepts_nulls_for_read_only_fields_as_dotnet_sends_them(self, hub):
        body = installation(userId=None, pushChannelExpired=None, expirationTime=None)
        assert put(hub, body).status_code == 200
        assert "userId" not in get(hub).json()

    def test_put_replaces_the_whole_installation_when_it_exists(self, hub):
        put(hub, installation())
        put(hub, installation(tags=["lang:de"], templates=None))
        body = get(hub).json()
        assert body["tags"] == ["lang:de"]
        assert "templates" not in body

    def test_platform_is_matched_case_insensitively_when_dotnet_sends_fcmV1(self, hub):
        put(hub, installation(platform="fcmV1", templates=None))
        assert get(hub).json()["platform"] == "fcmv1"


class TestValidation:
    @pytest.mark.parametrize(
        ("overrides", "fragment"),
        [
            ({"platform": "fcm"}, "platform"),
            ({"pushChannel": ""}, "pushChannel"),
            ({"tags": ["bad tag with spaces"]}, "tag"),
            ({"tags": [f"t{i}" for i in range(61)]}, "60"),
            ({"templates": {"alert": {"body": '{"aps":"$(unclosed"}'}}}, "alert"),
            ({"templates": {"alert": {"body": "not json"}}}, "alert"),
            ({"installationId": "other-id"}, "installationId"),
        ],
    )
    def test_put_answers_400_error_xml_when_a_field_breaks_nh_rules(self, hub, overrides, fragment):
        response = put(hub, installation(**overrides))
        assert response.status_code == 400
        assert response.text.startswith("<Error><Code>400</Code><Detail>")
        assert fragment in response.text

    def test_put_answers_400_when_the_body_is_not_json(self, hub):
        response = hub.put(f"installations/dev-1{VERSION}", content=b"{nope")
        assert response.status_code == 400

    def test_request_over_64_kb_is_refused_with_413(self, hub):
        body = installation(pushVariables={"big": "x" * (65 * 1024)})
        assert put(hub, body).status_code == 413

    def test_request_without_api_version_is_refused_with_400(self, hub):
        assert hub.put("installations/dev-1", json=installation()).status_code == 400


class TestPatch:
    def test_add_tag_appends_it_when_the_value_is_one_tag(self, hub):
        put(hub, installation())
        assert patch(hub, [{"op": "add", "path": "/tags", "value": "topic:finance"}]).status_code == 200
        assert get(hub).json()["tags"] == ["lang:en", "topic:hr", "topic:finance"]

    def test_remove_tag_by_value_drops_only_that_tag(self, hub):
        put(hub, installation())
        response = patch(hub, [{"op": "remove", "path": "/tags/topic:hr"}])
        assert response.status_code == 200
        assert response.content == b""
        assert get(hub).json()["tags"] == ["lang:en"]

    def test_removing_the_last_tag_removes_the_tags_property(self, hub):
        put(hub, installation(tags=["only"]))
        patch(hub, [{"op": "remove", "path": "/tags/only"}])
        assert "tags" not in get(hub).json()

    def test_replace_and_remove_user_id_change_the_stored_installation(self, hub):
        put(hub, installation())
        patch(hub, [{"op": "replace", "path": "/userId", "value": "bob"}])
        assert get(hub).json()["userId"] == "bob"
        patch(hub, [{"op": "remove", "path": "/userId"}])
        assert "userId" not in get(hub).json()

    def test_add_template_takes_a_json_encoded_string_value(self, hub):
        put(hub, installation())
        template = json.dumps({"body": '{"aps":{"content-available":1}}', "tags": ["quiet"]})
        patch(hub, [{"op": "add", "path": "/templates/silent", "value": template}])
        assert get(hub).json()["templates"]["silent"]["tags"] == ["quiet", "silent"]

    def test_new_push_channel_clears_the_expired_flag(self, hub, emulator_url):
        put(hub, installation())
        httpx.post(f"{emulator_url}_emulator/installations/dev-1/expire").raise_for_status()
        assert get(hub).json()["pushChannelExpired"] is True
        patch(hub, [{"op": "replace", "path": "/pushChannel", "value": "bb22"}])
        assert get(hub).json()["pushChannelExpired"] is False

    def test_patch_answers_404_when_the_installation_does_not_exist(self, hub):
        response = patch(hub, [{"op": "add", "path": "/tags", "value": "x"}], "missing")
        assert response.status_code == 404

    def test_patch_answers_400_when_the_path_is_not_supported(self, hub):
        put(hub, installation())
        assert patch(hub, [{"op": "add", "path": "/platform", "value": "wns"}]).status_code == 400

    def test_patch_accepts_plain_application_json_as_js_and_java_send_it(self, hub):
        put(hub, installation())
        response = hub.patch(
            f"installations/dev-1{VERSION}", json=[{"op": "add", "path": "/tags", "value": "topic:orders"}]
        )
        assert response.status_code == 200


class TestDelete:
    def test_delete_answers_204_also_when_the_installation_is_already_gone(self, hub):
        put(hub, installation())
        assert hub.delete(f"installations/dev-1{VERSION}").status_code == 204
        assert get(hub).status_code == 404
        assert hub.delete(f"installations/dev-1{VERSION}").status_code == 204


class TestOptions:
    def test_reads_lag_behind_writes_when_a_read_delay_is_configured(self):
        with (
            running_emulator(EmulatorConfig(read_delay=0.3)) as url,
            httpx.Client(base_url=f"{url}{HUB}/", headers=authorization(url)) as hub,
        ):
            put(hub, installation())
            assert get(hub).status_code == 404
            assert poll(lambda: get(hub).status_code, until=lambda status: status == 200, timeout=5) == 200

    def test_installations_survive_a_restart_when_a_state_file_is_configured(self, tmp_path):
        config = EmulatorConfig(state_file=tmp_path / "nh-state.json")
        with running_emulator(config) as url, httpx.Client(base_url=f"{url}{HUB}/", headers=authorization(url)) as c:
            put(c, installation())
        with running_emulator(config) as url, httpx.Client(base_url=f"{url}{HUB}/", headers=authorization(url)) as c:
            response = get(c)
            assert response.status_code == 200
            assert response.json()["userId"] == "alice"
