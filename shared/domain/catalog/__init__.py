"""The LoB event catalog: payload schemas, audiences, localized text and delivery, kept as data in one place."""

from __future__ import annotations

from shared.domain.catalog.document import CLOUDEVENTS_CONTENT_TYPE, catalog_document, example_cloud_event
from shared.domain.catalog.entries import CATALOG, MAX_EVENT_BYTES, CatalogEntry, Priority
from shared.domain.catalog.formatting import format_day, format_money, localized_message
from shared.domain.catalog.messages import MESSAGES, Message
from shared.domain.catalog.payloads import LobPayload

__all__ = [
    "CATALOG",
    "CLOUDEVENTS_CONTENT_TYPE",
    "MAX_EVENT_BYTES",
    "MESSAGES",
    "CatalogEntry",
    "LobPayload",
    "Message",
    "Priority",
    "catalog_document",
    "entry_for",
    "example_cloud_event",
    "format_day",
    "format_money",
    "localized_message",
]


def entry_for(event_type: str) -> CatalogEntry:
    """The catalog entry of ``event_type``. Raises KeyError for a type the catalog does not know."""
    return CATALOG[event_type]
