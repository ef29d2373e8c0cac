"""Hostile JSON into every JSON route of the NH emulator: an NH-style 400 (an <Error> body, as the service answers),
or the local routes' JSON 400, never a 500, and nothing logged with a traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from local.nh_emulator.testing import authorization, running_emulator

pytestmark = pytest.mark.contract

HUB = "enterprise-push"
VERSION = "?api-version=2020-06"
APNS = {"installationId": "dev-1", "platform": "apns", "pushChannel": "ab" * 32, "tags": ["topic:hr"]}

HOSTILE = {
    "nested arrays": b"[" * 50_000,  # deep enough to exhaust the parser's stack, within NH's 64 KB
    "nested objects": b'{"a":' * 10_000,
    "nested a little too deep": b"[" * 40 + b"]" * 40,
    "duplicate member": b'{"platform": "apns", "platform": "fcmv1", "pushChannel": "x"}',
    "huge number": b'{"badge": 1e400}',
    "long integer": b'{"badge": ' + b"9" * 5000 + b"}",
    "invalid UTF-8": b'{"title": "\xff\xfe"}',
    "lone surrogate": b'{"title": "\\ud800"}',
    "UTF-16": '{"title": "x"}'.encode("utf-16"),
    "NaN": b'{"title": NaN}',
}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_emulator() as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    httpx.delete(f"{base_url}_emulator/state").raise_for_status()
    with httpx.Client(base_url=f"{base_url}{HUB}/", headers=authorization(base_url), timeout=30) as http:
        http.put(f"installations/dev-1{VERSION}", json=APNS).raise_for_status()
        yield http


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """Every record logged while the test runs, uvicorn's own included (its loggers do not propagate)."""
    uvicorn_loggers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    for logger in uvicorn_loggers:
        logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog.records
    finally:
        for logger in uvicorn_loggers:
            logger.removeHandler(caplog.handler)


def no_traceback(records: list[logging.LogRecord]) -> bool:
    return not [record for record in records if record.exc_info or record.levelno >= logging.ERROR]


def assert_nh_bad_request(response: httpx.Response) -> None:
    assert response.status_code in (400, 413), response.text
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text.startswith("<Error><Code>")


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
class TestNotificationHubsRoutes:
    def test_put_installation(self, client: httpx.Client, logged: list[logging.LogRecord], body: bytes):
        response = client.put(
            f"installations/dev-2{VERSION}", content=body, headers={"Content-Type": "application/json"}
        )
        assert_nh_bad_request(response)
        assert no_traceback(logged)

    def test_patch_installation(self, client: httpx.Client, logged: list[logging.LogRecord], body: bytes):
        response = client.patch(
            f"installations/dev-1{VERSION}", content=body, headers={"Content-Type": "application/json-patch+json"}
        )
        assert_nh_bad_request(response)
        assert no_traceback(logged)

    @pytest.mark.parametrize("send_format", ["template", "apple", "fcmv1"])
    def test_send(self, client: httpx.Client, logged: list[logging.LogRecord], body: bytes, send_format: str):
        headers = {"Content-Type": "application/json;charset=utf-8", "ServiceBusNotification-Format": send_format}
        for route in ("messages/", "schedulednotifications/"):
            if route.startswith("scheduled"):
                headers["ServiceBusNotification-ScheduleTime"] = "2099-01-01T00:00:00Z"
            response = client.post(f"{route}{VERSION}", content=body, headers=headers)
            assert_nh_bad_request(response)
        assert no_traceback(logged)

    def test_batch_devices_part(self, client: httpx.Client, logged: list[logging.LogRecord], body: bytes):
        boundary = b"nh-batch-multipart-boundary"
        multipart = (
            b"--" + boundary + b"\r\nContent-Type: application/json\r\nContent-Disposition: inline; name=notification"
            b'\r\n\r\n{"aps":{"alert":"x"}}\r\n'
            b"--" + boundary + b"\r\nContent-Type: application/json\r\nContent-Disposition: inline; name=devices"
            b"\r\n\r\n" + body + b"\r\n--" + boundary + b"--\r\n"
        )
        response = client.post(
            f"messages/$batch{VERSION}&direct",
            content=multipart,
            headers={
                "Content-Type": f"multipart/mixed; boundary={boundary.decode()}",
                "ServiceBusNotification-Format": "apple",
            },
        )
        assert_nh_bad_request(response)
        assert no_traceback(logged)


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_local_fault_route_refuses_hostile_json(base_url: str, logged: list[logging.LogRecord], body: bytes):
    response = httpx.post(f"{base_url}_emulator/faults", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert "detail" in response.json()
    assert no_traceback(logged)


def test_a_valid_installation_still_registers(client: httpx.Client, logged: list[logging.LogRecord]):
    """The strict reading refuses only what is hostile: the installation the app sends is accepted."""
    response = client.put(f"installations/dev-3{VERSION}", json={**APNS, "installationId": "dev-3"})
    assert response.status_code == 200
    assert no_traceback(logged)
