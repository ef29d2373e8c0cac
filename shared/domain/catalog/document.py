"""The public event catalog served at GET /api/events/catalog: every type with its JSON Schema and an example."""

from __future__ import annotations

from typing import Any

from shared.domain.catalog.data_rules import data_schema
from shared.domain.catalog.entries import CATALOG, MAX_EVENT_BYTES, CatalogEntry

__all__ = ["catalog_document", "example_cloud_event"]

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
_EXAMPLE_TIME = "2025-03-10T09:30:00Z"


def example_cloud_event(entry: CatalogEntry) -> dict[str, Any]:
    """A complete, valid CloudEvent (structured mode) for ``entry``, as a LoB system would publish it."""
    return {
        "specversion": "1.0",
        "id": f"example-{entry.event_type}",
        "source": entry.source,
        "type": entry.event_type,
        "time": _EXAMPLE_TIME,
        "datacontenttype": "application/json",
        "data": dict(entry.example),
    }


def catalog_document() -> dict[str, Any]:
    """The catalog as a JSON-ready document: envelope rules plus, per event type, schema, audience and example."""
    return {
        "specversion": "1.0",
        "contentType": CLOUDEVENTS_CONTENT_TYPE,
        "maxEventBytes": MAX_EVENT_BYTES,
        "events": [
            {
                "type": entry.event_type,
                "topic": entry.topic,
                "source": entry.source,
                "audience": entry.audience_pattern(),
                "delivery": entry.delivery,
                "channels": entry.channels,
                "priority": entry.priority,
                "sensitive": entry.sensitive,
                "ttlSeconds": int(entry.ttl.total_seconds()),
                "deepLink": entry.deep_link,
                "dataSchema": data_schema(entry),
                "example": example_cloud_event(entry),
            }
            for entry in CATALOG.values()
        ],
    }
