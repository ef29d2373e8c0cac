"""The NH emulator verifies SAS tokens as NH-REST §1.3 describes: raw-sr signature, scope, expiry, rule, rights."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import time
from urllib.parse import quote

import httpx
import pytest

from local.nh_emulator.config import (
    BACKEND_RULE_NAME,
    FULL_RULE_NAME,
    LISTEN_RULE_NAME,
    WELL_KNOWN_BACKEND_KEY,
    WELL_KNOWN_FULL_KEY,
    WELL_KNOWN_LISTEN_KEY,
    EmulatorConfig,
)
from local.nh_emulator.testing import authorization, running_emulator, serving
from shared.notification_hubs.sas import sas_token

pytestmark = pytest.mark.local

HUB = "enterprise-push"
VERSION = "?api-version=2020-06"
INSTALLATION = {"installationId": "dev-1", "platform": "apns", "pushChannel": "aa11", "tags": ["topic:hr"]}
SEND_HEADERS = {"ServiceBusNotification-Format": "apple", "Content-Type": "application/json;charset=utf-8"}
APPLE_BODY = b'{"aps":{"alert":"hello"}}'


@pytest.fixture(scope="module")
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(clock_skew=0)


def dotnet_style_token(audience: str, key_name: str, key: str, expiry: int) -> str:
    """A token signed over a lower-case-escaped sr, as .NET's HttpUtility.UrlEncode writes it."""
    sr = quote(audience.lower(), safe="").lower()
    digest = hmac.new(key.encode(), f"{sr}\n{expiry}".encode(), hashlib.sha256).digest()
    sig = quote(base64.b64encode(digest).decode(), safe="")
    return f"SharedAccessSignature sr={sr}&sig={sig}&se={expiry}&skn={key_name}"


def put_installation(emulator_url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.put(f"{emulator_url}{HUB}/installations/dev-1{VERSION}", json=INSTALLATION, headers=headers)


def send_apple(emulator_url: str, headers: dict[str, str], query: str = VERSION) -> httpx.Response:
    return httpx.post(f"{emulator_url}{HUB}/messages{query}", content=APPLE_BODY, headers={**SEND_HEADERS, **headers})


class TestRights:
    def test_listen_key_may_put_installations_when_it_has_listen(self, emulator_url):
        response = put_installation(emulator_url, authorization(emulator_url, LISTEN_RULE_NAME, WELL_KNOWN_LISTEN_KEY))
        assert response.status_code == 200

    def test_listen_key_gets_403_with_empty_body_when_it_sends(self, emulator_url):
        response = send_apple(emulator_url, authorization(emulator_url, LISTEN_RULE_NAME, WELL_KNOWN_LISTEN_KEY))
        assert response.status_code == 403
        assert response.content == b""
        assert response.headers["TrackingId"]
        assert response.headers["x-ms-correlation-request-id"]

    def test_full_key_may_send_when_it_has_send(self, emulator_url):
        assert send_apple(emulator_url, authorization(emulator_url)).status_code == 201

    def test_request_without_token_is_refused_with_401(self, emulator_url):
        assert put_installation(emulator_url, {}).status_code == 401


def registrations_by_tag(emulator_url: str, tag: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{emulator_url}{HUB}/tags/{tag}/registrations{VERSION}", headers=headers)


class TestTheAppsProductionRule:
    """backend-listen-send is the rule Bicep gives the app (Listen, Send; never Manage)."""

    def backend(self, emulator_url: str) -> dict[str, str]:
        return authorization(emulator_url, BACKEND_RULE_NAME, WELL_KNOWN_BACKEND_KEY)

    def test_it_may_write_read_and_delete_installations_and_send(self, emulator_url):
        assert put_installation(emulator_url, self.backend(emulator_url)).status_code == 200
        url = f"{emulator_url}{HUB}/installations/dev-1{VERSION}"
        assert httpx.get(url, headers=self.backend(emulator_url)).status_code == 200
        assert send_apple(emulator_url, self.backend(emulator_url)).status_code == 201
        assert httpx.delete(url, headers=self.backend(emulator_url)).status_code == 204

    def test_reading_registrations_by_tag_needs_manage_and_is_refused_with_401(self, emulator_url):
        """NH-REST §1.4: registrations by tag need Manage; Azure answers 401 'Manage claim is required'."""
        put_installation(emulator_url, authorization(emulator_url))
        response = registrations_by_tag(emulator_url, "topic:hr", self.backend(emulator_url))
        assert response.status_code == 401
        assert "<Detail>Manage claim is required for this operation..TrackingId:" in response.text

    def test_the_full_rule_reads_the_same_registrations(self, emulator_url):
        put_installation(emulator_url, authorization(emulator_url))
        response = registrations_by_tag(emulator_url, "topic:hr", authorization(emulator_url))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/atom+xml")
        assert "<AppleRegistrationDescription" in response.text
        assert "<DeviceToken>aa11</DeviceToken>" in response.text
        assert "topic:hr" in response.text
        empty = registrations_by_tag(emulator_url, "topic:nobody", authorization(emulator_url))
        assert (empty.status_code, "<entry>" in empty.text) == (200, False)

    def test_the_listen_rule_is_refused_too(self, emulator_url):
        listen = authorization(emulator_url, LISTEN_RULE_NAME, WELL_KNOWN_LISTEN_KEY)
        assert registrations_by_tag(emulator_url, "topic:hr", listen).status_code == 401


class TestTokenChecks:
    def test_expired_token_is_refused_with_expired_token_detail(self, emulator_url):
        token = sas_token(emulator_url, FULL_RULE_NAME, WELL_KNOWN_FULL_KEY, int(time.time()) - 5)
        response = put_installation(emulator_url, {"Authorization": token})
        assert response.status_code == 401
        assert "<Detail>ExpiredToken:" in response.text

    def test_recently_expired_token_passes_when_clock_skew_allows_it(self):
        with running_emulator(EmulatorConfig(clock_skew=60)) as url:
            token = sas_token(url, FULL_RULE_NAME, WELL_KNOWN_FULL_KEY, int(time.time()) - 5)
            assert put_installation(url, {"Authorization": token}).status_code == 200

    def test_token_signed_with_another_key_is_refused_as_invalid_signature(self, emulator_url):
        response = put_installation(emulator_url, authorization(emulator_url, FULL_RULE_NAME, WELL_KNOWN_LISTEN_KEY))
        assert response.status_code == 401
        assert "InvalidSignature: The token has an invalid signature." in response.text

    def test_token_naming_an_unknown_rule_is_refused_with_401(self, emulator_url):
        response = put_installation(emulator_url, authorization(emulator_url, "SomeOtherRule", WELL_KNOWN_FULL_KEY))
        assert response.status_code == 401
        assert response.text.startswith("<Error><Code>401</Code>")

    def test_malformed_token_is_refused_with_401(self, emulator_url):
        assert put_installation(emulator_url, {"Authorization": "SharedAccessSignature sr=x"}).status_code == 401

    def test_keys_from_flags_replace_the_well_known_ones_when_given(self):
        with running_emulator(EmulatorConfig(full_key="b3RoZXIta2V5")) as url:
            assert put_installation(url, authorization(url)).status_code == 401
            assert put_installation(url, authorization(url, FULL_RULE_NAME, "b3RoZXIta2V5")).status_code == 200


class TestScope:
    @pytest.mark.parametrize(
        "audience_suffix",
        [
            "",  # namespace root (JS)
            HUB,  # hub root (Python sample)
            f"{HUB}/messages/",  # full path (.NET, trailing slash)
            f"{HUB}/messages?api-version=2020-06&direct",  # full path with query (Java)
        ],
    )
    def test_audience_is_accepted_when_it_is_a_prefix_of_the_request(self, emulator_url, audience_suffix):
        headers = authorization(emulator_url + audience_suffix)
        response = httpx.post(
            f"{emulator_url}{HUB}/messages?api-version=2020-06&direct",
            content=APPLE_BODY,
            headers={**SEND_HEADERS, **headers, "ServiceBusNotification-DeviceHandle": "aa11"},
        )
        assert response.status_code == 201

    def test_lower_case_escapes_verify_when_signed_over_the_raw_sr(self, emulator_url):
        audience = f"{emulator_url}{HUB}/messages/"
        token = dotnet_style_token(audience, FULL_RULE_NAME, WELL_KNOWN_FULL_KEY, int(time.time()) + 600)
        assert "%3a%2f%2f" in token
        assert send_apple(emulator_url, {"Authorization": token}).status_code == 201

    def test_upper_case_escapes_verify_when_signed_over_the_raw_sr(self, emulator_url):
        token = authorization(emulator_url + HUB)["Authorization"]
        assert "%3A%2F%2F" in token
        assert send_apple(emulator_url, {"Authorization": token}).status_code == 201

    def test_audience_of_another_hub_is_refused_with_401(self, emulator_url):
        response = send_apple(emulator_url, authorization(emulator_url + "other-hub"))
        assert response.status_code == 401

    def test_audience_with_another_host_is_refused_with_401(self, emulator_url):
        response = send_apple(emulator_url, authorization("https://myns.servicebus.windows.net/"))
        assert response.status_code == 401


class TestHttps:
    def test_https_mode_serves_tls_with_a_certificate_the_ca_file_verifies(self, tmp_path):
        with serving(EmulatorConfig(https=True, tls_dir=tmp_path)) as running:
            assert running.base_url.startswith("https://")
            assert running.tls is not None
            response = httpx.put(
                f"{running.base_url}{HUB}/installations/dev-1{VERSION}",
                json=INSTALLATION,
                headers=authorization(running.base_url),
                verify=ssl.create_default_context(cafile=str(running.tls.ca_file)),
            )
            assert response.status_code == 200
