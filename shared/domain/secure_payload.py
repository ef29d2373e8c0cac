"""Secure-payload mode: a regulated alert's push carries a neutral text and the notification id, nothing else.

The device shows the neutral text in its own language; the app opens ``enterprisepush://notifications/{id}`` and
reads the content from ``GET /api/me/notifications/{id}``, which answers its owner only. Which LoB events use it is
a per-entry setting of the catalog (``CatalogEntry.sensitive``; debit alerts by default); campaigns choose it per
send (``sensitive``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import quote

from shared.domain.catalog.messages import Message
from shared.domain.device_templates import collapse_id
from shared.domain.languages import SUPPORTED_LANGUAGES

__all__ = ["NEUTRAL_MESSAGES", "SECURE_CATEGORY", "SECURE_EVENT_TYPE", "inbox_link", "neutral_properties"]

SECURE_EVENT_TYPE = "secure"
SECURE_CATEGORY = "secure"

NEUTRAL_MESSAGES: Mapping[str, Message] = MappingProxyType(
    {
        "en": Message("New message", "You have a new message. Open the app to read it."),
        "de": Message("Neue Nachricht", "Sie haben eine neue Nachricht. Öffnen Sie die App, um sie zu lesen."),
        "es": Message("Nuevo mensaje", "Tiene un mensaje nuevo. Abra la aplicación para leerlo."),
    }
)


def inbox_link(notification_id: str) -> str:
    """The deep link that opens a notification in the app's inbox."""
    return f"enterprisepush://notifications/{quote(notification_id, safe='')}"


def neutral_properties(
    notification_id: str, *, collapse_key: str | None = None, event_id: str | None = None
) -> dict[str, str]:
    """Template-send properties of a secure push: neutral title and body in every language, the notification id, the
    event id (``event_id``: a LoB event's CloudEvent id; by default the notification id, as for a campaign), the
    collapse id (derived from ``collapse_key``, by default the notification id; an event's is its key ``source#id``),
    the link.

    Nothing about the content travels: not the event type, not the category, not a word of the text.
    """
    properties: dict[str, str] = {}
    for language in SUPPORTED_LANGUAGES:
        message = NEUTRAL_MESSAGES[language]
        properties[f"title_{language}"] = message.title
        properties[f"body_{language}"] = message.body
    properties.update(
        eventId=notification_id if event_id is None else event_id,
        notificationId=notification_id,
        collapseId=collapse_id(notification_id if collapse_key is None else collapse_key),
        eventType=SECURE_EVENT_TYPE,
        deepLink=inbox_link(notification_id),
        category=SECURE_CATEGORY,
    )
    return properties
