"""Every HTTP operation of the API as data: route, who may call it, the request model and what it answers.

shared.api.openapi turns this table into the OpenAPI document; a function test keeps it equal to the routes
function_app.py declares. Statuses are exactly those the handler can answer: a status not listed here is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel

from shared.api.events import LOB_PUBLISHER_ROLE
from shared.api.http import MAX_JSON_BODY_BYTES
from shared.api.operators import PUSH_ADMIN_ROLE
from shared.api.schemas import (
    AcceptedEvent,
    CatalogDocument,
    DeadLetterList,
    HealthReport,
    InstallationList,
    InstallationRequest,
    InstallationView,
    Liveness,
    NotificationOutcomeView,
    PreferencesRequest,
    PreferencesView,
    ReplayResult,
)
from shared.domain.catalog import MAX_EVENT_BYTES
from shared.domain.installation_ids import INSTALLATION_ID_PATTERN

__all__ = ["JSON", "OPERATIONS", "Body", "Operation", "Reply"]

JSON: Final = "application/json"
CLOUDEVENTS_JSON: Final = "application/cloudevents+json"
ANYONE: Final[tuple[str, ...] | None] = None  # no sign-in


@dataclass(frozen=True)
class Body:
    """A request body: a model (or a component schema by name), the media types it may come as, its byte limit."""

    schema: type[BaseModel] | str
    media_types: tuple[str, ...]
    max_bytes: int


@dataclass(frozen=True)
class Reply:
    """A success answer: status, description, the model of its JSON body (None: no body, or any object), and
    OpenAPI links to the operations its values feed (clients and stateful fuzzing follow them)."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    media_type: str = JSON
    links: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str  # the function's name in function_app.py
    summary: str
    replies: tuple[Reply, ...]
    problems: tuple[int, ...]  # error statuses, each answered as application/problem+json
    roles: tuple[str, ...] | None = ()  # () signed-in user, (role,) that role, None anonymous
    body: Body | None = None
    parameters: tuple[dict[str, Any], ...] = field(default=())


INSTALLATION_ID: Final = {
    "name": "installationId",
    "in": "path",
    "required": True,
    "description": "chosen by the app; usable in Notification Hubs' $InstallationId tag",
    "schema": {"type": "string", "pattern": INSTALLATION_ID_PATTERN.pattern},
}
DEAD_LETTER_ID: Final = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "an id from GET /deadletters (q-… quarantined, d-… dead-lettered)",
    "schema": {"type": "string", "minLength": 1},
}

_DEVICE_LINKS: Final = {
    name: {"operationId": operation_id, "parameters": {"installationId": "$request.path.installationId"}}
    for name, operation_id in (("GetDevice", "get_device"), ("UnregisterDevice", "unregister_device"))
}
_REPLAY_LINK: Final = {
    "ReplayFirst": {"operationId": "replay_dead_letter", "parameters": {"id": "$response.body#/items/0/id"}}
}

# Every route behind sign-in can answer 401; every route can meet a misconfigured app (500) and the ones that
# read or write Tables or Notification Hubs a dependency that refuses (502) or is away (503).
_SIGNED_IN = (401, 500, 502, 503)
_JSON_BODY = (400, 413, 415)

OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "put",
        "/installations/{installationId}",
        "register_device",
        "Register or refresh a device; the server assigns tags and templates",
        (Reply(200, "the registered device", InstallationView, links=_DEVICE_LINKS),),
        (*_JSON_BODY, 404, *_SIGNED_IN),
        body=Body(InstallationRequest, (JSON,), MAX_JSON_BODY_BYTES),
        parameters=(INSTALLATION_ID,),
    ),
    Operation(
        "get",
        "/installations/{installationId}",
        "get_device",
        "Read one of the caller's devices (another user's answers like a missing one)",
        (Reply(200, "the device", InstallationView),),
        (400, 404, *_SIGNED_IN),
        parameters=(INSTALLATION_ID,),
    ),
    Operation(
        "delete",
        "/installations/{installationId}",
        "unregister_device",
        "Remove one of the caller's devices (another user's, or one already gone, answers 404)",
        (Reply(204, "removed"),),
        (400, 404, *_SIGNED_IN),
        parameters=(INSTALLATION_ID,),
    ),
    Operation(
        "get",
        "/me/installations",
        "list_my_devices",
        "The caller's devices",
        (Reply(200, "the caller's devices", InstallationList),),
        _SIGNED_IN,
    ),
    Operation(
        "get",
        "/me/preferences",
        "get_my_preferences",
        "The caller's preferences, or the defaults",
        (Reply(200, "saved or default preferences", PreferencesView),),
        _SIGNED_IN,
    ),
    Operation(
        "put",
        "/me/preferences",
        "update_my_preferences",
        "Replace preferences; every device of the caller is updated",
        (Reply(200, "saved preferences", PreferencesView),),
        (*_JSON_BODY, *_SIGNED_IN),
        body=Body(PreferencesRequest, (JSON,), MAX_JSON_BODY_BYTES),
    ),
    Operation(
        "post",
        "/me/test-notification",
        "send_test_notification",
        "A test push to the caller's own devices, with Notification Hubs' outcome",
        (Reply(200, "Notification Hubs' outcome", NotificationOutcomeView),),
        _SIGNED_IN,
    ),
    Operation(
        "post",
        "/events",
        "publish_event",
        "A LoB system publishes a CloudEvent (structured mode) to its topic",
        (Reply(202, "published", AcceptedEvent),),
        (*_JSON_BODY, 403, *_SIGNED_IN),
        roles=(LOB_PUBLISHER_ROLE,),
        body=Body("CloudEvent", (CLOUDEVENTS_JSON, JSON), MAX_EVENT_BYTES),
    ),
    Operation(
        "get",
        "/events/catalog",
        "get_event_catalog",
        "Every event type with its JSON Schema and an example",
        (Reply(200, "the catalog", CatalogDocument),),
        (401, 403, 500),
        roles=(LOB_PUBLISHER_ROLE,),
    ),
    Operation(
        "get",
        "/deadletters",
        "list_dead_letters",
        "Quarantined and dead-lettered events with reasons",
        (Reply(200, "the items", DeadLetterList, links=_REPLAY_LINK),),
        (403, *_SIGNED_IN),
        roles=(PUSH_ADMIN_ROLE,),
    ),
    Operation(
        "post",
        "/deadletters/{id}/replay",
        "replay_dead_letter",
        "Publish one quarantined or dead-lettered event again",
        (Reply(202, "published again", ReplayResult),),
        (403, 404, *_SIGNED_IN),
        roles=(PUSH_ADMIN_ROLE,),
        parameters=(DEAD_LETTER_ID,),
    ),
    Operation(
        "get",
        "/health",
        "health_check",
        "Liveness only: no configuration or dependency detail",
        (
            Reply(200, "the app runs", Liveness),
            Reply(503, "the app cannot serve (details in its log and in /health/dependencies)", Liveness),
        ),
        (),
        roles=ANYONE,
    ),
    Operation(
        "get",
        "/health/dependencies",
        "check_dependencies",
        "Configuration and reachability of Tables and Notification Hubs",
        (
            Reply(200, "every dependency answers", HealthReport),
            Reply(503, "a dependency fails", HealthReport),
        ),
        (403, 401, 500),
        roles=(PUSH_ADMIN_ROLE,),
    ),
    Operation(
        "get",
        "/openapi.json",
        "openapi",
        "This document",
        (Reply(200, "the OpenAPI 3.1 description of the API"),),
        (),
        roles=ANYONE,
    ),
)
