"""The NH emulator's scheduled sends, tier gates and injected faults."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from local.nh_emulator.config import EmulatorConfig, Tier
from local.nh_emulator.testing import authorization, running_emulator

pytestmark = pytest.mark.local

HUB = "enterprise-push"
VERSION = "?api-version=2020-06"
DEVICE = {
    "installationId": "ios-1",
    "platform": "apns",
    "pushChannel": "apns-token",
    "tags": ["topic:hr"],
    "templates": {"alert": {"body": '{"aps":{"alert":"$(message)"}}'}},
}
TEMPLATE_HEADERS = {"ServiceBusNotification-Format": "template", "Content-Type": "application/json;charset=utf-8"}


@pytest.fixture(scope="module")
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(scheduler_interval=0.02)


@pytest.fixture
def hub(hub: httpx.Client) -> httpx.Client:
    """The hub client of the tier (tests/local/conftest.py), with the iPhone ``ios-1`` installed."""
    hub.put(f"installations/ios-1{VERSION}", json=DEVICE).raise_for_status()
    return hub


def schedule(hub: httpx.Client, at: str, message: str = "later") -> httpx.Response:
    headers = {**TEMPLATE_HEADERS, "ServiceBusNotification-ScheduleTime": at}
    return hub.post(f"schedulednotifications/{VERSION}", content=json.dumps({"message": message}), headers=headers)


def inbox(emulator_url: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = httpx.get(f"{emulator_url}_emulator/inbox/ios-1").json()
    return found


def wait_for_inbox(emulator_url: str, count: int, timeout: float = 3.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    found = inbox(emulator_url)
    while len(found) < count and time.monotonic() < deadline:
        time.sleep(0.02)
        found = inbox(emulator_url)
    return found


def iso_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TestScheduledSends:
    def test_scheduled_send_fires_at_its_time_with_a_location_for_its_id(self, hub, emulator_url):
        response = schedule(hub, iso_in(0.3))
        assert response.status_code == 201
        assert "/schedulednotifications/" in response.headers["Location"]
        assert inbox(emulator_url) == []
        (delivery,) = wait_for_inbox(emulator_url, 1)
        assert json.loads(str(delivery["payload"])) == {"aps": {"alert": "later"}}

    def test_cancelled_scheduled_send_never_fires(self, hub, emulator_url):
        location = schedule(hub, iso_in(0.3), "cancelled").headers["Location"]
        scheduled_id = location.split("?")[0].rsplit("/", 1)[1]
        assert hub.delete(f"schedulednotifications/{scheduled_id}{VERSION}").status_code == 200
        # A later send that is not cancelled: once it has fired, the cancelled one's time has passed too.
        schedule(hub, iso_in(0.5), "sentinel")
        delivered = wait_for_inbox(emulator_url, 1)
        assert [json.loads(str(d["payload"]))["aps"]["alert"] for d in delivered] == ["sentinel"]
        assert hub.delete(f"schedulednotifications/{scheduled_id}{VERSION}").status_code == 404

    def test_dotnet_schedule_time_without_zone_is_read_as_utc(self, hub, emulator_url):
        at = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
        assert schedule(hub, at).status_code == 201
        assert len(wait_for_inbox(emulator_url, 1)) == 1

    def test_schedule_answers_400_when_the_time_is_missing_or_beyond_seven_days(self, hub):
        assert schedule(hub, "").status_code == 400
        assert schedule(hub, iso_in(8 * 24 * 3600)).status_code == 400

    def test_scheduled_sends_survive_a_restart_when_a_state_file_is_configured(self, tmp_path):
        config = EmulatorConfig(state_file=tmp_path / "state.json", scheduler_interval=0.02)
        with running_emulator(config) as url, httpx.Client(base_url=f"{url}{HUB}/", headers=authorization(url)) as h:
            h.put(f"installations/ios-1{VERSION}", json=DEVICE).raise_for_status()
            assert schedule(h, iso_in(60)).status_code == 201
        state = json.loads((tmp_path / "state.json").read_text())
        assert len(state["scheduled"]) == 1
        assert state["installations"][0]["installationId"] == "ios-1"


class TestTiers:
    @pytest.mark.parametrize("tier", [Tier.FREE, Tier.BASIC])
    def test_lower_tiers_omit_location_and_refuse_telemetry_and_scheduling(self, tier):
        with (
            running_emulator(EmulatorConfig(tier=tier)) as url,
            httpx.Client(base_url=f"{url}{HUB}/", headers=authorization(url)) as http,
        ):
            response = http.post(f"messages{VERSION}", content=b'{"message":"x"}', headers=TEMPLATE_HEADERS)
            assert response.status_code == 201
            assert "Location" not in response.headers
            assert http.get(f"messages/abc-20200101000000-1-1{VERSION}").status_code == 403
            refused = schedule(http, iso_in(10))
            assert refused.status_code == 403
            assert "Retry-After" not in refused.headers

    @pytest.mark.parametrize(("tier", "status"), [(Tier.FREE, 403), (Tier.BASIC, 201), (Tier.STANDARD, 201)])
    def test_batch_direct_send_needs_basic_or_standard(self, tier, status):
        boundary = "nh-batch-multipart-boundary"
        body = (
            f"--{boundary}\r\nContent-Type: application/json\r\nContent-Disposition: inline; name=notification\r\n\r\n"
            '{"aps":{"alert":"b"}}\r\n'
            f"--{boundary}\r\nContent-Type: application/json\r\nContent-Disposition: inline; name=devices\r\n\r\n"
            '["apns-token"]\r\n'
            f"--{boundary}--\r\n"
        )
        with running_emulator(EmulatorConfig(tier=tier)) as url:
            response = httpx.post(
                f"{url}{HUB}/messages/$batch{VERSION}&direct",
                content=body.encode(),
                headers={
                    **authorization(url),
                    "Content-Type": f"multipart/mixed; boundary={boundary}",
                    "ServiceBusNotification-Format": "apple",
                },
            )
            assert response.status_code == status


class TestFaults:
    def set_faults(self, emulator_url: str, *rules: dict[str, object], seed: int = 7) -> None:
        httpx.post(f"{emulator_url}_emulator/faults", json={"seed": seed, "rules": list(rules)}).raise_for_status()

    def test_injected_429_carries_retry_after_and_an_error_body(self, hub, emulator_url):
        self.set_faults(emulator_url, {"route": "send", "status": 429, "retryAfter": 3})
        response = hub.post(f"messages{VERSION}", content=b'{"message":"x"}', headers=TEMPLATE_HEADERS)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "3"
        assert response.text.startswith("<Error><Code>429</Code>")
        assert hub.get(f"installations/ios-1{VERSION}").status_code == 200, "other routes are untouched"

    def test_injected_403_throttle_carries_retry_after(self, hub, emulator_url):
        self.set_faults(emulator_url, {"route": "installations", "status": 403, "retryAfter": 1})
        response = hub.get(f"installations/ios-1{VERSION}")
        assert response.status_code == 403
        assert response.headers["Retry-After"] == "1"

    def test_fault_stops_after_its_count_when_times_is_set(self, hub, emulator_url):
        self.set_faults(emulator_url, {"route": "send", "status": 503, "times": 1})
        first = hub.post(f"messages{VERSION}", content=b'{"message":"x"}', headers=TEMPLATE_HEADERS)
        second = hub.post(f"messages{VERSION}", content=b'{"message":"x"}', headers=TEMPLATE_HEADERS)
        assert (first.status_code, second.status_code) == (503, 201)

    def test_dropped_connection_closes_the_socket_without_any_response(self, hub, emulator_url):
        self.set_faults(emulator_url, {"route": "send", "drop": True})
        # The socket is closed with nothing written: the client sees the end of the stream or, when the close
        # meets data still in flight, a reset. Either way no answer arrives.
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            hub.post(f"messages{VERSION}", content=b'{"message":"x"}', headers=TEMPLATE_HEADERS)
        assert inbox(emulator_url) == []

    def test_latency_delays_the_answer_when_configured(self, hub, emulator_url):
        self.set_faults(emulator_url, {"route": "installations", "latency": 0.2})
        started = time.monotonic()
        assert hub.get(f"installations/ios-1{VERSION}").status_code == 200
        assert time.monotonic() - started >= 0.2

    def test_same_seed_gives_the_same_sequence_of_faults(self, hub, emulator_url):
        def run() -> list[int]:
            self.set_faults(emulator_url, {"route": "installations", "status": 500, "rate": 0.5}, seed=42)
            return [hub.get(f"installations/ios-1{VERSION}").status_code for _ in range(12)]

        first = run()
        assert first == run()
        assert {200, 500} == set(first)

    def test_fault_rules_are_refused_with_400_when_malformed(self, emulator_url):
        response = httpx.post(f"{emulator_url}_emulator/faults", json={"rules": [{"route": "nowhere", "status": 429}]})
        assert response.status_code == 400
