"""The OpenAPI paths and schemas of operators' sends and of the secure read (merged by ``shared.api.openapi``)."""

from __future__ import annotations

from typing import Any

from shared.api.campaign_schemas import IDEMPOTENCY_KEY_PATTERN, AudienceParams, NotificationRequest
from shared.api.openapi_parts import query_parameters

__all__ = ["campaign_paths", "campaign_schemas"]

_REF = "#/components/schemas/{model}"
_SECURED: list[dict[str, list[str]]] = [{"easyAuth": []}, {"devUser": []}]
_PROBLEMS = {
    "400": "invalid request; `errors` lists the fields at fault",
    "401": "no identity this deployment trusts",
    "403": "the caller lacks the role push.admin",
    "404": "not found",
    "409": "the Idempotency-Key was used for a different request, or nothing is left to cancel",
    "413": "body too large",
    "415": "body is not JSON",
    "502": "a dependency refused the request",
    "503": "a dependency is unavailable; retry later",
}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
_OUTCOMES = {
    "type": "object",
    "description": "platform -> NH outcome (Success, ExpiredChannel, ...) -> count",
    "additionalProperties": _COUNTS,
}
_TIME = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _json(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _problems(*statuses: int) -> dict[str, Any]:
    problem = {"content": {"application/problem+json": {"schema": _ref("Problem")}}}
    responses = {str(s): {"description": _PROBLEMS[str(s)], **problem} for s in statuses}
    responses["default"] = {"description": "any other error", **problem}
    return responses


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def campaign_paths() -> dict[str, Any]:
    return {
        "/audience": {
            "get": {
                "operationId": "preview_audience",
                "summary": "How many installations a tag expression reaches, by platform and language (push.admin)",
                "security": _SECURED,
                "parameters": query_parameters(AudienceParams),
                "responses": {"200": _json(_ref("AudienceCounts"), "the counts"), **_problems(400, 401, 403, 503)},
            }
        },
        "/notifications": {
            "post": {
                "operationId": "send_notification",
                "summary": "Send to an audience now, later, at a local time or in waves (push.admin)",
                "security": _SECURED,
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "the same key (per caller) never sends twice; a retry gets the first answer",
                        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("NotificationRequest")}},
                },
                "responses": {
                    "202": _json(
                        _ref("NotificationSummary"),
                        "accepted; the campaign timer sends it",
                        {"Location": {"schema": {"type": "string"}, "description": "/api/notifications/{id}"}},
                    ),
                    **_problems(400, 401, 403, 409, 413, 415, 503),
                },
            },
            "get": {
                "operationId": "list_notifications",
                "summary": "The newest operators' sends (push.admin)",
                "security": _SECURED,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"notifications": {"type": "array", "items": _ref("NotificationSummary")}},
                        },
                        "newest first",
                    ),
                    **_problems(401, 403, 503),
                },
            },
        },
        "/notifications/{id}": {
            "parameters": [_ID],
            "get": {
                "operationId": "get_notification",
                "summary": "State, audience size at send time, and per wave NH's notification ids and outcomes",
                "security": _SECURED,
                "responses": {"200": _json(_ref("Notification"), "the send"), **_problems(401, 403, 404, 503)},
            },
        },
        # A cancelled send stays readable (its state says so), so cancelling is an action on it, not a DELETE.
        "/notifications/{id}/cancel": {
            "parameters": [_ID],
            "post": {
                "operationId": "cancel_notification",
                "summary": "Cancel what has not gone out yet, NH scheduled sends included (push.admin)",
                "security": _SECURED,
                "responses": {
                    "200": _json(_ref("Notification"), "cancelled (or cancelled before)"),
                    **_problems(401, 403, 404, 409, 503),
                },
            },
        },
        "/me/notifications/{id}": {
            "parameters": [_ID],
            "get": {
                "operationId": "read_my_notification",
                "summary": "The content behind a secure push, for its recipient only (404 for anyone else)",
                "security": _SECURED,
                "responses": {"200": _json(_ref("InboxNotification"), "the content"), **_problems(401, 404, 503)},
            },
        },
    }


def _summary_properties() -> dict[str, Any]:
    return {
        "id": {"type": "string"},
        "state": {"type": "string", "enum": ["scheduled", "sending", "sent", "cancelled", "failed"]},
        "createdAt": {"type": "string", "format": "date-time"},
        "createdBy": {"type": "string"},
        "audience": {
            "type": "object",
            "properties": {"expression": {"type": "string"}, "users": {"type": "array", "items": {"type": "string"}}},
        },
        "title": {"type": ["string", "null"]},
        "sendAt": _TIME,
        "audienceSize": {"type": ["integer", "null"], "description": "installations reached, counted at send time"},
        "cancelledAt": _TIME,
    }


def campaign_schemas() -> dict[str, Any]:
    request = NotificationRequest.model_json_schema(by_alias=True, ref_template=_REF)
    wave = {
        "type": "object",
        "properties": {
            "wave": {"type": "integer"},
            "due": {"type": "string", "format": "date-time"},
            "weight": {"type": ["integer", "null"], "description": "the wave's weight; null for a single wave"},
            "timeZone": {"type": ["string", "null"]},
            "installations": {"type": "integer"},
            "users": {"type": "integer"},
            "state": {"type": "string", "enum": ["pending", "scheduled", "sent", "cancelled", "failed"]},
            "notifications": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "description": "NH notification (or scheduled notification) id"},
                        "scheduled": {"type": "boolean"},
                        "state": {"type": "string"},
                        "telemetry": {"type": ["string", "null"], "description": "NH's state: Completed, ..."},
                        "outcomes": _OUTCOMES,
                    },
                },
            },
            "outcomes": _OUTCOMES,
            "failedSends": {"type": "integer"},
            "cancelledSends": {"type": "integer"},
            "removedInstallations": {"type": "integer", "description": "dead channels removed after this wave"},
        },
    }
    detail = {
        **_summary_properties(),
        "title": {"type": "object", "additionalProperties": {"type": "string"}},
        "body": {"type": "object", "additionalProperties": {"type": "string"}},
        "defaultLanguage": {"type": "string"},
        "deepLink": {"type": ["string", "null"]},
        "silent": {"type": "boolean"},
        "sensitive": {"type": "boolean"},
        "localTime": {"type": ["object", "null"]},
        "wavePolicy": {"type": ["object", "null"]},
        "audienceUsers": {"type": ["integer", "null"]},
        "audienceByPlatform": {"type": ["object", "null"], "additionalProperties": {"type": "integer"}},
        "audienceByLanguage": {"type": ["object", "null"], "additionalProperties": {"type": "integer"}},
        "waves": {"type": "array", "items": wave},
        "outcomes": _OUTCOMES,
        "removedInstallations": {"type": "integer"},
        "cancelledBy": {"type": ["string", "null"]},
    }
    return {
        **request.pop("$defs", {}),
        "NotificationRequest": request,
        "NotificationSummary": {"type": "object", "properties": _summary_properties()},
        "Notification": {"type": "object", "properties": detail},
        "AudienceCounts": {
            "type": "object",
            "properties": {
                "expression": {"type": "string"},
                "installations": {"type": "integer"},
                "users": {"type": "integer"},
                "byPlatform": _COUNTS,
                "byLanguage": _COUNTS,
            },
        },
        "InboxNotification": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "title": {"type": "string"},
                "body": {"type": "string"},
                "language": {"type": "string"},
                "deepLink": {"type": ["string", "null"]},
                "eventType": {"type": "string"},
                "source": {"type": "string", "enum": ["event", "campaign"]},
                "createdAt": {"type": "string", "format": "date-time"},
            },
        },
    }
