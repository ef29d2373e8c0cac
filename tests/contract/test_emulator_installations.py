"""The NH emulator's installation routes: PUT/PATCH/GET/DELETE semantics, validation, consistency, persistence."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from local.nh_emulator.config import EmulatorConfig
from local.nh_emulator.testing import authorization, running_emulator
from tests.support.stack import poll

pytestmark = pytest.mark.contract

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


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_emulator() as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    httpx.delete(f"{base_url}_emulator/state").raise_for_status()
    with httpx.Client(base_url=f"{base_url}{HUB}/", headers=authorization(base_url)) as http:
        yield http


def put(client: httpx.Client, body: dict[str, object], installation_id: str = "dev-1") -> httpx.Response:
    return client.put(f"installations/{installation_id}{VERSION}", json=body)


def patch(client: httpx.Client, operations: list[dict[str, str]], installation_id: str = "dev-1") -> httpx.Response:
    return client.patch(
        f"installations/{installation_id}{VERSION}",
        content=json.dumps(operations),
        headers={"Content-Type": "application/json-patch+json"},
    )


def get(client: httpx.Client, installation_id: str = "dev-1") -> httpx.Response:
    return client.get(f"installations/{installation_id}{VERSION}")


class TestPutAndGet:
    def test_put_answers_200_with_empty_body_when_the_installation_is_valid(self, client):
        response = put(client, installation())
        assert response.status_code == 200
        assert response.content == b""
        assert response.headers["TrackingId"]

    def test_get_returns_the_json_under_nh_xml_content_type_when_it_exists(self, client):
        put(client, installation())
        response = get(client)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/xml")
        body = response.json()
        assert body["userId"] == "alice"
        assert body["tags"] == ["lang:en", "topic:hr"]
        assert body["pushChannelExpired"] is False
        assert body["templates"]["alert"]["tags"] == ["alert"], "NH adds the template name as a tag"

    def test_get_answers_404_installation_not_found_when_it_does_not_exist(self, client):
        response = get(client, "missing")
        assert response.status_code == 404
        assert "<Detail>Installation not found.TrackingId:" in response.text

    def test_put_accepts_nulls_for_read_only_fields_as_dotnet_sends_them(self, client):
        body = installation(userId=None, pushChannelExpired=None, expirationTime=None)
        assert put(client, body).status_code == 200
        assert "userId" not in get(client).json()

    def test_put_replaces_the_whole_installation_when_it_exists(self, client):
        put(client, installation())
        put(client, installation(tags=["lang:de"], templates=None))
        body = get(client).json()
        assert body["tags"] == ["lang:de"]
        assert "templates" not in body

    def test_platform_is_matched_case_insensitively_when_dotnet_sends_fcmV1(self, client):
        put(client, installation(platform="fcmV1", templates=None))
        assert get(client).json()["platform"] == "fcmv1"


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
    def test_put_answers_400_error_xml_when_a_field_breaks_nh_rules(self, client, overrides, fragment):
        response = put(client, installation(**overrides))
        assert response.status_code == 400
        assert response.text.startswith("<Error><Code>400</Code><Detail>")
        assert fragment in response.text

    def test_put_answers_400_when_the_body_is_not_json(self, client):
        response = client.put(f"installations/dev-1{VERSION}", content=b"{nope")
        assert response.status_code == 400

    def test_request_over_64_kb_is_refused_with_413(self, client):
        body = installation(pushVariables={"big": "x" * (65 * 1024)})
        assert put(client, body).status_code == 413

    def test_request_without_api_version_is_refused_with_400(self, client):
        assert client.put("installations/dev-1", json=installation()).status_code == 400


class TestPatch:
    def test_add_tag_appends_it_when_the_value_is_one_tag(self, client):
        put(client, installation())
        assert patch(client, [{"op": "add", "path": "/tags", "value": "topic:finance"}]).status_code == 200
        assert get(client).json()["tags"] == ["lang:en", "topic:hr", "topic:finance"]

    def test_remove_tag_by_value_drops_only_that_tag(self, client):
        put(client, installation())
        response = patch(client, [{"op": "remove", "path": "/tags/topic:hr"}])
        assert response.status_code == 200
        assert response.content == b""
        assert get(client).json()["tags"] == ["lang:en"]

    def test_removing_the_last_tag_removes_the_tags_property(self, client):
        put(client, installation(tags=["only"]))
        patch(client, [{"op": "remove", "path": "/tags/only"}])
        assert "tags" not in get(client).json()

    def test_replace_and_remove_user_id_change_the_stored_installation(self, client):
        put(client, installation())
        patch(client, [{"op": "replace", "path": "/userId", "value": "bob"}])
        assert get(client).json()["userId"] == "bob"
        patch(client, [{"op": "remove", "path": "/userId"}])
        assert "userId" not in get(client).json()

    def test_add_template_takes_a_json_encoded_string_value(self, client):
        put(client, installation())
        template = json.dumps({"body": '{"aps":{"content-available":1}}', "tags": ["quiet"]})
        patch(client, [{"op": "add", "path": "/templates/silent", "value": template}])
        assert get(client).json()["templates"]["silent"]["tags"] == ["quiet", "silent"]

    def test_new_push_channel_clears_the_expired_flag(self, client, base_url):
        put(client, installation())
        httpx.post(f"{base_url}_emulator/installations/dev-1/expire").raise_for_status()
        assert get(client).json()["pushChannelExpired"] is True
        patch(client, [{"op": "replace", "path": "/pushChannel", "value": "bb22"}])
        assert get(client).json()["pushChannelExpired"] is False

    def test_patch_answers_404_when_the_installation_does_not_exist(self, client):
        response = patch(client, [{"op": "add", "path": "/tags", "value": "x"}], "missing")
        assert response.status_code == 404

    def test_patch_answers_400_when_the_path_is_not_supported(self, client):
        put(client, installation())
        assert patch(client, [{"op": "add", "path": "/platform", "value": "wns"}]).status_code == 400

    def test_patch_accepts_plain_application_json_as_js_and_java_send_it(self, client):
        put(client, installation())
        response = client.patch(
            f"installations/dev-1{VERSION}", json=[{"op": "add", "path": "/tags", "value": "topic:orders"}]
        )
        assert response.status_code == 200


class TestDelete:
    def test_delete_answers_204_also_when_the_installation_is_already_gone(self, client):
        put(client, installation())
        assert client.delete(f"installations/dev-1{VERSION}").status_code == 204
        assert get(client).status_code == 404
        assert client.delete(f"installations/dev-1{VERSION}").status_code == 204


class TestOptions:
    def test_reads_lag_behind_writes_when_a_read_delay_is_configured(self):
        with (
            running_emulator(EmulatorConfig(read_delay=0.3)) as url,
            httpx.Client(base_url=f"{url}{HUB}/", headers=authorization(url)) as client,
        ):
            put(client, installation())
            assert get(client).status_code == 404
            assert poll(lambda: get(client).status_code, until=lambda status: status == 200, timeout=5) == 200

    def test_installations_survive_a_restart_when_a_state_file_is_configured(self, tmp_path):
        config = EmulatorConfig(state_file=tmp_path / "nh-state.json")
        with running_emulator(config) as url, httpx.Client(base_url=f"{url}{HUB}/", headers=authorization(url)) as c:
            put(c, installation())
        with running_emulator(config) as url, httpx.Client(base_url=f"{url}{HUB}/", headers=authorization(url)) as c:
            response = get(c)
            assert response.status_code == 200
            assert response.json()["userId"] == "alice"
