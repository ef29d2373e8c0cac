"""The OpenAPI 3.1 description of every route, request, response and problem type, built from the models."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel

from shared.api.campaign_openapi import campaign_paths, campaign_schemas
from shared.api.deliveries import DecisionView, DeliveriesPage
from shared.api.openapi_ledger import ledger_paths
from shared.api.openapi_orders import ORDER_MODELS, order_paths
from shared.api.openapi_parts import _JSON, _REF, _SECURED, _json, _problems, _ref
from shared.api.openapi_realtime import realtime_paths
from shared.api.realtime_schemas import InboxItem, InboxPageResponse, NegotiateResponse
from shared.api.schemas import InstallationRequest, PreferencesRequest

__all__ = ["openapi_document"]


_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["location", "message"],
                "properties": {"location": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

_INSTALLATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["installationId", "platform", "pushChannelHint", "language", "interests", "tags", "state"],
    "properties": {
        "installationId": {"type": "string"},
        "platform": {"type": "string", "enum": ["apns", "fcmv1", "wns"]},
        "pushChannelHint": {"type": "string", "description": "last characters of the push channel"},
        "language": {"type": "string"},
        "interests": {"type": "array", "items": {"type": "string"}},
        "tags": {"type": "array", "items": {"type": "string"}, "description": "server-assigned NH tags"},
        "templates": {"type": "array", "items": {"type": "string"}},
        "state": {"type": "string", "enum": ["pending", "active"]},
        "createdAt": {"type": "string", "format": "date-time"},
    },
}

_PREFERENCES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["interests", "language", "quietHours", "debitThreshold"],
    "properties": {
        "interests": {"type": "array", "items": {"type": "string"}},
        "language": {"type": ["string", "null"]},
        "quietHours": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["start", "end", "timeZone"],
                    "properties": {
                        "start": {"type": "string"},
                        "end": {"type": "string"},
                        "timeZone": {"type": "string"},
                    },
                },
            ]
        },
        "debitThreshold": {"type": ["string", "null"], "description": "decimal number as a string"},
    },
}

_OUTCOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["success", "failure", "results"],
    "properties": {
        "success": {"type": "integer"},
        "failure": {"type": "integer"},
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "platform": {"type": ["string", "null"]},
                    "pushChannelHint": {"type": "string"},
                    "outcome": {"type": ["string", "null"]},
                },
            },
        },
    },
}

_CLOUD_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0, JSON structured mode; `data` per the event type's schema in the catalog",
    "required": ["specversion", "id", "source", "type", "data"],
    "properties": {
        "specversion": {"const": "1.0"},
        "id": {"type": "string"},
        "source": {"type": "string"},
        "type": {"type": "string"},
        "time": {"type": "string", "format": "date-time"},
        "datacontenttype": {"type": "string"},
        "data": {"type": "object"},
    },
}

_ACCEPTED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "type", "topic"],
    "properties": {"id": {"type": "string"}, "type": {"type": "string"}, "topic": {"type": "string"}},
}

_DEAD_LETTER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "kind", "topic", "subscription", "reason"],
    "properties": {
        "id": {"type": "string"},
        "kind": {"type": "string", "enum": ["quarantine", "deadletter"]},
        "topic": {"type": "string"},
        "subscription": {"type": "string"},
        "messageId": {"type": ["string", "null"]},
        "reason": {"type": ["string", "null"]},
        "description": {"type": ["string", "null"]},
        "subject": {"type": ["string", "null"]},
        "at": {"type": ["string", "null"]},
        "replayedAt": {"type": ["string", "null"]},
        "body": {"type": "string"},
    },
}

_HEALTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded"]},
        "checks": {"type": "object", "additionalProperties": {"type": "object"}},
    },
}

_LIVENESS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]}},
}


_INSTALLATION_ID = {
    "name": "installationId",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[-_@#.:=A-Za-z0-9]{1,128}$"},
}
_USER_ERRORS = (400, 401, 403, 502, 503)


def _model_schemas(*models: type[BaseModel]) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(by_alias=True, ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


@cache
def openapi_document() -> dict[str, Any]:
    """The API description served at GET /api/openapi.json."""

    body = {"required": True, "content": {_JSON: {"schema": {}}}}
    paths: dict[str, Any] = {
        "/installations/{installationId}": {
            "parameters": [_INSTALLATION_ID],
            "put": {
                "operationId": "register_device",
                "summary": "Register or refresh a device; the server assigns tags and templates",
                "security": _SECURED,
                "requestBody": {**body, "content": {_JSON: {"schema": _ref("InstallationRequest")}}},
                "responses": {
                    "200": _json(_ref("Installation"), "the registered device"),
                    **_problems(*_USER_ERRORS, 404, 413, 415),
                },
            },
            "get": {
                "operationId": "get_device",
                "summary": "Read one of the caller's devices",
                "security": _SECURED,
                "responses": {"200": _json(_ref("Installation"), "the device"), **_problems(*_USER_ERRORS, 404)},
            },
            "delete": {
                "operationId": "unregister_device",
                "summary": "Remove one of the caller's devices; 404 when the caller has none by that id",
                "security": _SECURED,
                "responses": {"204": {"description": "removed"}, **_problems(*_USER_ERRORS, 404)},
            },
        },
        "/me/installations": {
            "get": {
                "operationId": "list_my_devices",
                "summary": "The caller's devices",
                "security": _SECURED,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["installations"],
                            "properties": {"installations": {"type": "array", "items": _ref("Installation")}},
                        },
                        "the caller's devices",
                    ),
                    **_problems(*_USER_ERRORS),
                },
            }
        },
        "/me/preferences": {
            "get": {
                "operationId": "get_my_preferences",
                "security": _SECURED,
                "responses": {"200": _json(_ref("Preferences"), "saved or default preferences"), **_problems(401, 503)},
            },
            "put": {
                "operationId": "update_my_preferences",
                "summary": "Replace preferences; every device of the caller is updated",
                "security": _SECURED,
                "requestBody": {**body, "content": {_JSON: {"schema": _ref("PreferencesRequest")}}},
                "responses": {
                    "200": _json(_ref("Preferences"), "saved preferences"),
                    **_problems(*_USER_ERRORS, 413, 415),
                },
            },
        },
        "/me/test-notification": {
            "post": {
                "operationId": "send_test_notification",
                "summary": "A test push to the caller's own devices, with NH's outcome",
                "security": _SECURED,
                "responses": {"200": _json(_ref("NotificationOutcome"), "NH's outcome"), **_problems(*_USER_ERRORS)},
            }
        },
        "/events": {
            "post": {
                "operationId": "publish_event",
                "summary": "A LoB system posts a CloudEvent (role lob.publisher)",
                "security": _SECURED,
                "requestBody": {
                    "required": True,
                    "content": {"application/cloudevents+json": {"schema": _ref("CloudEvent")}},
                },
                "responses": {"202": _json(_ref("AcceptedEvent"), "published"), **_problems(*_USER_ERRORS, 415)},
            }
        },
        "/events/catalog": {
            "get": {
                "operationId": "get_event_catalog",
                "summary": "Every event type with its JSON Schema and an example (role lob.publisher)",
                "security": _SECURED,
                "responses": {
                    "200": _json({"type": "object"}, "the catalog"),
                    **_problems(401, 403),
                },
            }
        },
        "/deadletters": {
            "get": {
                "operationId": "list_dead_letters",
                "summary": "Quarantined and dead-lettered events with reasons (role push.admin)",
                "security": _SECURED,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["items"],
                            "properties": {"items": {"type": "array", "items": _ref("DeadLetter")}},
                        },
                        "the items",
                    ),
                    **_problems(401, 403, 503),
                },
            }
        },
        "/deadletters/{id}/replay": {
            "post": {
                "operationId": "replay_dead_letter",
                "summary": "Re-publish one quarantined or dead-lettered event (role push.admin)",
                "security": _SECURED,
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "202": _json({"type": "object"}, "re-published"),
                    **_problems(401, 403, 404, 503),
                },
            }
        },
        **ledger_paths(),
        **order_paths(),
        **realtime_paths(),
        "/health": {
            "get": {
                "operationId": "health",
                "summary": "Liveness, without configuration detail",
                "security": [],
                "responses": {
                    "200": _json(_ref("Liveness"), "the app can serve its API"),
                    "503": _json(_ref("Liveness"), "it cannot as configured; the reason is in the logs"),
                },
            }
        },
        "/health/dependencies": {
            "get": {
                "operationId": "check_dependencies",
                "summary": "Configuration and reachability of Tables and Notification Hubs (role push.admin)",
                "security": _SECURED,
                "responses": {
                    "200": _json(_ref("Health"), "every dependency answers"),
                    "503": _json(_ref("Health"), "a dependency fails"),
                    **_problems(401, 403),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "this document")},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Enterprise Push API",
            "version": "1.0.0",
            "description": "Device registration, preferences, LoB event intake and operator tools.",
        },
        "servers": [{"url": "/api"}],
        "paths": {**paths, **campaign_paths()},
        "components": {
            "schemas": {
                **_model_schemas(
                    InstallationRequest,
                    PreferencesRequest,
                    DecisionView,
                    DeliveriesPage,
                    NegotiateResponse,
                    InboxItem,
                    InboxPageResponse,
                    *ORDER_MODELS,
                ),
                "Problem": _PROBLEM_SCHEMA,
                "Installation": _INSTALLATION_SCHEMA,
                "Preferences": _PREFERENCES_SCHEMA,
                "NotificationOutcome": _OUTCOME_SCHEMA,
                "CloudEvent": _CLOUD_EVENT_SCHEMA,
                "AcceptedEvent": _ACCEPTED_SCHEMA,
                "DeadLetter": _DEAD_LETTER_SCHEMA,
                "Health": _HEALTH_SCHEMA,
                "Liveness": _LIVENESS_SCHEMA,
                **campaign_schemas(),
            },
            "securitySchemes": {
                "easyAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Entra ID token; App Service Authentication validates it in front of the app",
                },
                "devUser": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Dev-User",
                    "description": "local dev mode only (AUTH_MODE=dev); X-Dev-Roles adds roles",
                },
            },
        },
    }


if __name__ == "__main__":
    import json

    print(json.dumps(openapi_document(), indent=2, ensure_ascii=False))
