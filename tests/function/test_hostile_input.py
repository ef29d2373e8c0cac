"""Hostile JSON through function_app's functions: in request bodies, in the Easy Auth principal header, and in
what the replay route reads back from quarantine. Every answer is a 4xx application/problem+json (or, for a
valid replay request, 202), and nothing is logged with a traceback."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

import function_app
from shared.composition.services import Services
from shared.domain.catalog import CATALOG, example_cloud_event
from shared.domain.records import QuarantinedMessage
from tests.function.conftest import BEHIND_APP_SERVICE_AUTHENTICATION, Emulator, body_of, call, settings_for

pytestmark = pytest.mark.function

APNS = "ab" * 32
_EVENT = json.dumps(example_cloud_event(CATALOG["accounts.debit.posted"]))

# Each body breaks one rule of strict JSON; all fit the JSON routes' 16 KiB, so the parser meets every one.
HOSTILE_BODIES = {
    "nested arrays": b"[" * 10_000,
    "nested objects": b'{"a":' * 3_000,
    "nested a little too deep": b"[" * 33 + b"]" * 33,
    "duplicate member": b'{"platform": "apns", "platform": "wns", "pushChannel": "' + APNS.encode() + b'"}',
    "number beyond a double": b'{"debitThreshold": 1e400}',
    "integer over 4300 digits": b'{"debitThreshold": ' + b"9" * 5000 + b"}",
    "invalid UTF-8": b'{"language": "\xff\xfe"}',
    "lone surrogate": b'{"language": "\\ud800"}',
    "UTF-16": '{"language": "de"}'.encode("utf-16"),
    "byte-order mark": b'\xef\xbb\xbf{"language": "de"}',
    "NaN": b'{"debitThreshold": NaN}',
}
HOSTILE_EVENTS = {
    **HOSTILE_BODIES,
    "nested arrays past 16 KiB": b"[" * 100_000,  # events may be 256 KiB: this one reaches the parser too
    "duplicate type": _EVENT[:-1].encode() + b', "type": "hr.employee.left"}',
    "amount beyond a double": _EVENT.replace('"249.99"', "1e400").encode(),
    "huge exponent": _EVENT.replace('"249.99"', "1e999999999").encode(),
}


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]


def assert_problem(response: Any, statuses: tuple[int, ...] = (400,)) -> dict[str, Any]:
    assert response.status_code in statuses, response.get_body()[:500]
    assert response.mimetype == "application/problem+json"
    problem: dict[str, Any] = body_of(response)
    assert problem["status"] == response.status_code
    assert "Traceback" not in problem["detail"]
    return problem


@pytest.fixture(autouse=True)
def _capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


class TestRequestBodies:
    @pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
    async def test_register_device(self, services: Services, emulator: Emulator, caplog, body: bytes):
        response = await call(
            function_app.register_device,
            "PUT",
            "installations/phone",
            user="alice",
            route_params={"installationId": "phone"},
            headers={"Content-Type": "application/json"},
            body=body,
        )
        assert_problem(response)
        assert tracebacks(caplog) == []
        assert await emulator.installation_ids() == set()

    @pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
    async def test_update_preferences(self, services: Services, emulator: Emulator, caplog, body: bytes):
        response = await call(
            function_app.update_my_preferences,
            "PUT",
            "me/preferences",
            user="alice",
            headers={"Content-Type": "application/json"},
            body=body,
        )
        assert_problem(response)
        assert tracebacks(caplog) == []

    @pytest.mark.parametrize("body", HOSTILE_EVENTS.values(), ids=HOSTILE_EVENTS.keys())
    async def test_publish_event(self, services: Services, emulator: Emulator, caplog, body: bytes):
        response = await call(
            function_app.publish_event,
            "POST",
            "events",
            user="erp",
            roles="lob.publisher",
            headers={"Content-Type": "application/cloudevents+json"},
            body=body,
        )
        assert_problem(response)
        assert tracebacks(caplog) == []

    async def test_a_body_over_the_route_limit_is_413(self, services: Services, emulator: Emulator, caplog):
        response = await call(
            function_app.update_my_preferences,
            "PUT",
            "me/preferences",
            user="alice",
            headers={"Content-Type": "application/json"},
            body=b"[" * 100_000,
        )
        assert_problem(response, (413,))
        assert tracebacks(caplog) == []


def _principal(payload: bytes) -> str:
    return base64.b64encode(payload).decode()


_CLAIMS = b'[{"typ": "oid", "val": "alice-oid"}]'
HOSTILE_PRINCIPALS = {
    "nested arrays": _principal(b"[" * 10_000),
    "nested claims": _principal(b'{"auth_typ": "aad", "claims": ' + b"[" * 40 + b"]" * 40 + b"}"),
    "duplicate auth_typ": _principal(b'{"auth_typ": "x", "auth_typ": "aad", "claims": ' + _CLAIMS + b"}"),
    "duplicate claims": _principal(b'{"auth_typ": "aad", "claims": [], "claims": ' + _CLAIMS + b"}"),
    "number beyond a double": _principal(b'{"auth_typ": "aad", "exp": 1e400, "claims": ' + _CLAIMS + b"}"),
    "integer over 4300 digits": _principal(b'{"auth_typ": "aad", "n": ' + b"9" * 5000 + b', "claims": []}'),
    "invalid UTF-8": _principal(b'{"auth_typ": "aad", "claims": [{"typ": "oid", "val": "\xff"}]}'),
    "lone surrogate": _principal(b'{"auth_typ": "aad", "claims": [{"typ": "oid", "val": "\\udc00"}]}'),
    "UTF-16": _principal(b'{"auth_typ": "aad", "claims": []}'.decode().encode("utf-16")),
    "not base64": "%%%not-base64%%%",
    "base64 of nothing": "",
    "over 16 KiB": _principal(b" " * 20_000),
}


class TestIdentityHeader:
    @pytest.mark.parametrize("principal", HOSTILE_PRINCIPALS.values(), ids=HOSTILE_PRINCIPALS.keys())
    async def test_a_hostile_principal_is_401(
        self, services: Services, emulator: Emulator, caplog, monkeypatch: pytest.MonkeyPatch, principal: str
    ):
        monkeypatch.setattr(services, "settings", settings_for(emulator.base_url, **BEHIND_APP_SERVICE_AUTHENTICATION))
        response = await call(
            function_app.list_my_devices, "GET", "me/installations", headers={"X-MS-CLIENT-PRINCIPAL": principal}
        )
        assert_problem(response, (401,))
        assert tracebacks(caplog) == []

    async def test_the_same_principal_well_formed_signs_in(
        self, services: Services, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
    ):
        monkeypatch.setattr(services, "settings", settings_for(emulator.base_url, **BEHIND_APP_SERVICE_AUTHENTICATION))
        principal = _principal(b'{"auth_typ": "aad", "claims": ' + _CLAIMS + b"}")
        response = await call(
            function_app.list_my_devices, "GET", "me/installations", headers={"X-MS-CLIENT-PRINCIPAL": principal}
        )
        assert response.status_code == 200


class TestReplay:
    @pytest.mark.parametrize("body", HOSTILE_EVENTS.values(), ids=HOSTILE_EVENTS.keys())
    async def test_a_quarantined_hostile_body_is_listed_and_replayed(
        self, services: Services, emulator: Emulator, caplog, body: bytes
    ):
        """What a LoB system sent over AMQP reaches the operator routes as stored bytes, whatever they are."""
        item_id = f"q-hostile-{abs(hash(body)) % 10**9}"
        await services.quarantine.add(
            QuarantinedMessage(
                id=item_id,
                topic="accounts",
                subscription="push",
                message_id="hostile-1",
                reason="invalid_json",
                description="hostile",
                body=body,
                content_type="application/cloudevents+json",
                subject="accounts.debit.posted",
                application_properties={},
                quarantined_at=datetime.now(UTC),
            )
        )
        listed = await call(function_app.list_dead_letters, "GET", "deadletters", user="ops", roles="push.admin")
        assert listed.status_code == 200
        assert item_id in [item["id"] for item in body_of(listed)["items"]]
        replayed = await call(
            function_app.replay_dead_letter,
            "POST",
            f"deadletters/{item_id}/replay",
            user="ops",
            roles="push.admin",
            route_params={"id": item_id},
        )
        assert replayed.status_code == 202
        assert body_of(replayed)["messageId"].startswith("hostile-1/replay-")
        assert tracebacks(caplog) == []

    @pytest.mark.parametrize(
        "item_id",
        [
            "d-" + base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
            "d-!!!",
            "d-" + "A" * 10_000,
            "q-" + "x" * 10_000,
            "q-\u0000",
            "neither",
        ],
    )
    async def test_a_hostile_id_is_404(self, services: Services, emulator: Emulator, caplog, item_id: str):
        response = await call(
            function_app.replay_dead_letter,
            "POST",
            "deadletters/x/replay",
            user="ops",
            roles="push.admin",
            route_params={"id": item_id},
        )
        assert_problem(response, (404,))
        assert tracebacks(caplog) == []
