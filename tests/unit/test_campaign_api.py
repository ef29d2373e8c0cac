"""The operators' routes and the secure read through the HTTP layer on in-memory services: roles, problem+json
for every bad input (never a 500), 202 + Location, idempotency, owner-only reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.api import campaigns as routes
from shared.api.http import ApiRequest, ApiResponse
from shared.api.runtime import Handler, run_handler
from shared.composition import root as bootstrap
from shared.composition.services import Services
from shared.composition.settings import Settings
from shared.domain.records import InstallationRecord, Platform, Preferences
from shared.domain.secure_content import SecureItem
from tests.fakes import (
    InMemoryCampaignStore,
    InMemoryDeadLetters,
    InMemoryDeliveryLog,
    InMemoryInstallationMirror,
    InMemoryPreferencesStore,
    InMemoryQuarantineStore,
    InMemorySecureContentStore,
    RecordingPublisher,
    RecordingPushGateway,
)
from tests.fakes_orders import InMemoryOrderStore

NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
ADMIN = {"x-dev-user": "ops", "x-dev-roles": "push.admin"}
GOOD = {"audience": "topic:hr", "title": {"en": "Hello"}, "body": {"en": "World"}}


@pytest.fixture
def services() -> Iterator[Services]:
    settings = Settings.from_env(
        {
            "AUTH_MODE": "dev",
            "PUSH_NH_CONNECTION_STRING": "Endpoint=http://127.0.0.1:1/;SharedAccessKeyName=a;SharedAccessKey=b",
            "PUSH_NH_HUB_NAME": "hub",
            "PUSH_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
        }
    )
    built = Services(
        settings=settings,
        push=RecordingPushGateway(),
        installations=InMemoryInstallationMirror(),
        preferences=InMemoryPreferencesStore(),
        deliveries=InMemoryDeliveryLog(),
        quarantine=InMemoryQuarantineStore(),
        publisher=RecordingPublisher(),
        dead_letters=InMemoryDeadLetters(),
        orders=(orders := InMemoryOrderStore()),
        outbox=orders,
        campaigns=InMemoryCampaignStore(),
        secure_content=InMemorySecureContentStore(),
        now=lambda: NOW,
    )
    with bootstrap.override(built):
        yield built


async def call(
    handler: Handler,
    method: str,
    *,
    headers: dict[str, str] | None = None,
    body: Any = None,
    raw: bytes | None = None,
    query: dict[str, str] | None = None,
    route: dict[str, str] | None = None,
) -> ApiResponse:
    all_headers = dict(headers or {})
    if body is not None:
        raw = json.dumps(body).encode()
        all_headers.setdefault("content-type", "application/json")
    request = ApiRequest(method, route_params=route or {}, query=query or {}, headers=all_headers, body=raw or b"")
    return await run_handler(handler, request)


def problem(response: ApiResponse) -> dict[str, Any]:
    assert response.content_type == "application/problem+json", response.body
    return dict(json.loads(response.body))


class TestRoles:
    @pytest.mark.parametrize(
        ("handler", "method"),
        [
            (routes.post_notification, "POST"),
            (routes.list_notifications, "GET"),
            (routes.get_notification, "GET"),
            (routes.cancel_notification, "POST"),
            (routes.get_audience, "GET"),
        ],
    )
    async def test_operators_routes_need_push_admin(self, services, handler, method):
        anonymous = await call(handler, method, body=GOOD, query={"expression": "topic:hr"}, route={"id": "c1"})
        assert anonymous.status == 401
        user = await call(handler, method, headers={"x-dev-user": "eve"}, body=GOOD, query={"expression": "topic:hr"})
        assert problem(user)["status"] == 403


class TestPostNotification:
    async def test_answers_202_with_the_id_and_a_location(self, services):
        response = await call(routes.post_notification, "POST", headers=ADMIN, body=GOOD)
        assert response.status == 202
        accepted = json.loads(response.body)
        assert response.headers["Location"] == f"/api/notifications/{accepted['id']}"
        assert accepted["state"] == "scheduled"
        assert services.push.sends == []  # the campaign timer sends, not the request

    async def test_the_same_idempotency_key_answers_the_same_campaign(self, services):
        headers = {**ADMIN, "idempotency-key": "2f1c-9a"}
        first = await call(routes.post_notification, "POST", headers=headers, body=GOOD)
        again = await call(routes.post_notification, "POST", headers=headers, body=GOOD)
        assert again.status == 202
        assert again.headers["Location"] == first.headers["Location"]
        assert again.headers["Idempotent-Replayed"] == "true"
        different = await call(
            routes.post_notification, "POST", headers=headers, body={**GOOD, "audience": "topic:finance"}
        )
        assert problem(different)["status"] == 409

    @pytest.mark.parametrize(
        ("body", "location"),
        [
            ({**GOOD, "audience": "role:push.admin"}, "/audience"),
            ({**GOOD, "audience": None, "users": ["alice"]}, "/audience"),
            ({k: v for k, v in GOOD.items() if k != "audience"} | {"users": []}, "/users"),
            ({k: v for k, v in GOOD.items() if k != "audience"} | {"users": [" "]}, "/users/0"),
            ({k: v for k, v in GOOD.items() if k != "audience"} | {"users": ['a"b']}, "/users/0"),
            ({k: v for k, v in GOOD.items() if k != "audience"} | {"users": ["José"]}, "/users/0"),
            ({"title": {"en": "x"}, "body": {"en": "y"}}, "/"),
            ({**GOOD, "users": ["alice"]}, "/"),
            ({**GOOD, "title": {"fr": "x"}}, "/title/fr"),
            ({**GOOD, "body": {"en": "y" * 301}}, "/body/en"),
            ({**GOOD, "sendAt": "2026-06-01T12:00:00"}, "/sendAt"),
            ({**GOOD, "sendAt": "9999-01-01T00:00:00Z"}, "/sendAt"),
            ({**GOOD, "sendAt": 1780000000}, "/sendAt"),
            ({**GOOD, "sendAt": {"localTime": "1999-12-31T09:00"}}, "/sendAt"),
            ({**GOOD, "title": {"en": "Hi $(name)"}}, "/title/en"),
            ({**GOOD, "title": {"en": "two\nlines"}}, "/title/en"),
            ({**GOOD, "body": {"en": "bell\u0007"}}, "/body/en"),
            ({**GOOD, "defaultLanguage": "de"}, "/"),
            ({**GOOD, "waves": {"weights": [1], "pause": 604801}}, "/waves/pause"),
            ({**GOOD, "waves": {"weights": [1], "pause": "PT"}}, "/waves/pause"),
            ({**GOOD, "waves": {"weights": [1], "pause": 1.5}}, "/waves/pause"),
            ({**GOOD, "deepLink": "https://"}, "/deepLink"),
            ({**GOOD, "sensitive": 0}, "/sensitive"),
            ({**GOOD, "silent": "true"}, "/silent"),
            ({**GOOD, "deepLink": 'https://x/"><script>'}, "/deepLink"),
            ({**GOOD, "sendAt": {"localTime": "2026-06-02T09:00", "fallbackTimeZone": "Mars/Olympus"}}, None),
            ({**GOOD, "waves": {"percent": [50, 50]}}, "/waves"),
            ({**GOOD, "waves": {"weights": [0, 1]}}, "/waves/weights/0"),
            ({**GOOD, "waves": {"weights": ["1"]}}, "/waves/weights/0"),
            ({**GOOD, "waves": {"weights": [1] * 11}}, "/waves/weights"),
            ({**GOOD, "waves": {"weights": [100], "pause": "P30D"}}, "/waves/pause"),
            ({**GOOD, "deepLink": "javascript:alert(1)"}, "/deepLink"),
            ({**GOOD, "tags": ["user:bob"]}, "/tags"),
            ({**GOOD, "title": "Hello"}, "/title"),
        ],
    )
    async def test_bad_requests_are_problems_naming_the_field(self, services, body, location):
        response = await call(routes.post_notification, "POST", headers=ADMIN, body=body)
        details = problem(response)
        assert details["status"] == 400
        if location is not None:
            assert any(error["location"].startswith(location) for error in details["errors"]), details["errors"]
        assert services.campaigns.campaigns == {}

    @pytest.mark.parametrize(
        "changes",
        [
            {"sendAt": "2001-01-01T00:00:00+01:00"},
            {"sendAt": {"localTime": "2001-01-01T09:00", "fallbackTimeZone": "Pacific/Kiritimati"}},
            {"waves": {"weights": [1, 1], "pause": 30.0}},
            {"waves": {"weights": [1, 1], "pause": "PT167H59M59S"}},
            {"body": {"en": "two\nlines", "de": "zwei"}, "title": {"de": "Hallo", "en": "Hello"}},
            {"deepLink": "enterprisepush://orders/42?tab=a&b=c"},
        ],
    )
    async def test_what_the_document_admits_is_accepted(self, services, changes):
        response = await call(routes.post_notification, "POST", headers=ADMIN, body={**GOOD, **changes})
        assert response.status == 202, response.body

    async def test_the_largest_send_the_document_admits_fits_the_body_limit_and_is_accepted(self, services):
        # json.dumps escapes as clients usually do (ASCII only): a 4-byte character becomes 12 bytes.
        astral = "\U0001f600"
        largest = {
            "users": [f"{n:04d}" + "~" * 196 for n in range(1000)],
            "title": {language: "x" + astral * 79 for language in ("en", "de", "es")},
            "body": {language: "x" + astral * 299 for language in ("en", "de", "es")},
            "deepLink": "https://" + "a" * 504,
            "sendAt": {
                "localTime": "2030-01-01T09:00:00.000000",
                "fallbackTimeZone": "America/Argentina/ComodRivadavia",
            },
            "waves": {"weights": [100] * 10, "pause": "PT167H59M59S"},
            "silent": False,
            "sensitive": False,
            "defaultLanguage": "en",
        }
        raw = json.dumps(largest).encode()
        assert 200_000 < len(raw) <= routes.MAX_NOTIFICATION_BODY_BYTES
        response = await call(routes.post_notification, "POST", headers=ADMIN, body=largest)
        assert response.status == 202, response.body[:500]

    async def test_a_send_time_in_the_past_is_answered_with_now(self, services):
        response = await call(
            routes.post_notification, "POST", headers=ADMIN, body={**GOOD, "sendAt": "2001-01-01T00:00:00Z"}
        )
        answer = json.loads(response.body)
        assert answer["sendAt"] == answer["createdAt"]

    @pytest.mark.parametrize(
        ("raw", "content_type", "status"),
        [
            (b"{", "application/json", 400),
            (b"[]", "application/json", 400),
            (b"{}", "text/plain", 415),
            (b'{"a":"' + b"x" * 270_000 + b'"}', "application/json", 413),
        ],
    )
    async def test_malformed_bodies_are_4xx_problems(self, services, raw, content_type, status):
        response = await call(
            routes.post_notification, "POST", headers={**ADMIN, "content-type": content_type}, raw=raw
        )
        assert problem(response)["status"] == status

    async def test_an_unprintable_idempotency_key_is_refused(self, services):
        response = await call(routes.post_notification, "POST", headers={**ADMIN, "idempotency-key": "a b"}, body=GOOD)
        assert problem(response)["errors"][0]["location"] == "header:Idempotency-Key"


class TestReadAndCancel:
    async def test_an_unknown_campaign_is_404_for_read_and_cancel(self, services):
        for handler, method in ((routes.get_notification, "GET"), (routes.cancel_notification, "POST")):
            response = await call(handler, method, headers=ADMIN, route={"id": "c-nope"})
            assert problem(response)["status"] == 404

    async def test_a_campaign_reads_back_and_cancels(self, services):
        accepted = json.loads((await call(routes.post_notification, "POST", headers=ADMIN, body=GOOD)).body)
        read = await call(routes.get_notification, "GET", headers=ADMIN, route={"id": accepted["id"]})
        assert json.loads(read.body)["title"] == {"en": "Hello"}
        cancelled = await call(routes.cancel_notification, "POST", headers=ADMIN, route={"id": accepted["id"]})
        assert json.loads(cancelled.body)["state"] == "cancelled"
        listed = json.loads((await call(routes.list_notifications, "GET", headers=ADMIN)).body)
        assert [(n["id"], n["state"]) for n in listed["notifications"]] == [(accepted["id"], "cancelled")]


class TestAudience:
    async def test_an_expression_is_required_and_validated(self, services):
        assert problem(await call(routes.get_audience, "GET", headers=ADMIN))["status"] == 400
        refused = await call(routes.get_audience, "GET", headers=ADMIN, query={"expression": "role:x"})
        [error] = problem(refused)["errors"]
        assert error["location"] == "/expression"  # a query string's fields are named like the body's
        assert "up to 6 tags with '&&'" in error["message"]

    async def test_no_installations_count_zero(self, services):
        response = await call(routes.get_audience, "GET", headers=ADMIN, query={"expression": "lang:es"})
        assert json.loads(response.body) == {
            "expression": "lang:es", "installations": 0, "users": 0, "byPlatform": {}, "byLanguage": {},
        }  # fmt: skip


class TestMyNotification:
    async def test_the_owner_reads_it_in_their_language_and_nobody_else_can(self, services):
        item = SecureItem(
            "alice", "evt-1", "event", "accounts.debit.posted", {"en": "Debit", "de": "Abbuchung", "es": "Cargo"},
            {"en": "€5 to X", "de": "5 € an X", "es": "5 € a X"}, "enterprisepush://accounts/A", NOW,
        )  # fmt: skip
        await services.secure_content.put(item)
        await services.preferences.put(Preferences("alice", language="de"))
        mine = await call(routes.get_my_notification, "GET", headers={"x-dev-user": "alice"}, route={"id": "evt-1"})
        assert json.loads(mine.body) | {"createdAt": None} == {
            "id": "evt-1", "title": "Abbuchung", "body": "5 € an X", "language": "de",
            "deepLink": "enterprisepush://accounts/A", "eventType": "accounts.debit.posted", "source": "event",
            "createdAt": None,
        }  # fmt: skip
        theirs = await call(routes.get_my_notification, "GET", headers={"x-dev-user": "bob"}, route={"id": "evt-1"})
        assert problem(theirs)["status"] == 404
        admin = await call(routes.get_my_notification, "GET", headers=ADMIN, route={"id": "evt-1"})
        assert problem(admin)["status"] == 404

    async def test_without_a_saved_language_the_latest_device_language_is_used(self, services):
        item = SecureItem(
            "bob", "c1", "campaign", "campaign", {"en": "Card", "es": "Tarjeta"}, {"en": "B", "es": "B"}, None, NOW
        )
        await services.secure_content.put(item)
        for installation_id, language, age in (("old", "en", 9), ("new", "es", 1)):
            seen = NOW - timedelta(days=age)
            services.installations.rows[("bob", installation_id)] = InstallationRecord(
                "bob", installation_id, Platform.FCMV1, "h", "abcdef", language, (), (), "active", seen, seen
            )
        mine = await call(routes.get_my_notification, "GET", headers={"x-dev-user": "bob"}, route={"id": "c1"})
        assert (json.loads(mine.body)["title"], json.loads(mine.body)["language"]) == ("Tarjeta", "es")

    async def test_anonymous_callers_are_refused_and_odd_ids_are_absent(self, services):
        assert (await call(routes.get_my_notification, "GET", route={"id": "evt-1"})).status == 401
        long = await call(routes.get_my_notification, "GET", headers={"x-dev-user": "a"}, route={"id": "x" * 300})
        assert problem(long)["status"] == 404
