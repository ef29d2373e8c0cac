"""The LoB event routes' contract: the CloudEvent a publisher posts (one schema per catalog type, built from the
envelope model and the payload models that validate it), what the route answers, and the published catalog."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.api.schemas.views import View
from shared.domain.catalog import CATALOG, CatalogEntry, example_cloud_event
from shared.domain.catalog.data_rules import data_schema
from shared.domain.events import CloudEventEnvelope
from shared.domain.topics import TOPICS

__all__ = ["AcceptedEvent", "CatalogDocument", "cloud_event_schemas"]


def _enum(values: list[str]) -> dict[str, Any]:
    return {"type": "string", "enum": sorted(values)}


class AcceptedEvent(View):
    """The event was published to its topic; delivery happens asynchronously."""

    id: str
    type: str = Field(json_schema_extra=lambda schema: schema.update(_enum(list(CATALOG))))
    topic: str = Field(json_schema_extra=lambda schema: schema.update(_enum(list(TOPICS))))


class CatalogEvent(View):
    type: str
    topic: str
    source: str
    audience: str = Field(description="tag expression of who is told: topic:<name> or user:{<payload field>}")
    delivery: Literal["alert", "silent"]
    channels: Literal["push", "inapp-first", "inapp-and-push"] = Field(
        description="push only, in-app with the push as fallback, or both at once"
    )
    priority: Literal["high", "normal"]
    sensitive: bool = Field(description="secure payload: the push carries a neutral text, the app reads the content")
    ttl_seconds: int = Field(ge=0)
    deep_link: str
    data_schema: dict[str, Any] = Field(description="JSON Schema of the event's data")
    example: dict[str, Any] = Field(description="a complete, valid CloudEvent of this type")


class CatalogDocument(View):
    """Every LoB event type with its JSON Schema, audience and an example, for the teams that publish them."""

    specversion: Literal["1.0"]
    content_type: str
    max_event_bytes: int = Field(gt=0)
    events: list[CatalogEvent]


def _component(name: str) -> str:
    return "#/components/schemas/" + name


def _event_schema(entry: CatalogEntry, payload_ref: str) -> dict[str, Any]:
    """The envelope, with this type's own ``type``, ``source`` and ``data`` (required)."""
    return {
        "description": f"{entry.event_type}, published by {entry.source}",
        "examples": [example_cloud_event(entry)],
        "allOf": [
            {"$ref": _component(CloudEventEnvelope.__name__)},
            {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "type": {"const": entry.event_type},
                    "source": {"const": entry.source},
                    "data": {"$ref": payload_ref},
                },
            },
        ],
    }


def cloud_event_schemas(ref_template: str) -> dict[str, Any]:
    """Component schemas of POST /api/events: ``CloudEvent`` (one of the catalog's types), each type's event and
    payload, and the envelope. Generated from the models ``parse_cloud_event`` validates with."""
    schemas: dict[str, Any] = {}
    envelope = CloudEventEnvelope.model_json_schema(ref_template=ref_template)
    schemas.update(envelope.pop("$defs", {}))
    schemas[CloudEventEnvelope.__name__] = envelope
    variants: dict[str, str] = {}
    for entry in CATALOG.values():
        payload = data_schema(entry, ref_template)
        schemas.update(payload.pop("$defs", {}))
        schemas[entry.payload.__name__] = payload
        event_name = "CloudEvent." + entry.event_type
        schemas[event_name] = _event_schema(entry, _component(entry.payload.__name__))
        variants[entry.event_type] = _component(event_name)
    schemas["CloudEvent"] = {
        "description": "CloudEvents 1.0 in JSON structured mode; `type` selects the catalog entry",
        "oneOf": [{"$ref": ref} for ref in variants.values()],
        "discriminator": {"propertyName": "type", "mapping": variants},
    }
    return schemas
