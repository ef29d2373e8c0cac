"""Deciding what one LoB event becomes: who is told, with which template and which localized properties."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.domain.catalog import CATALOG, CatalogEntry, Priority, localized_message
from shared.domain.catalog.payloads import DebitPosted
from shared.domain.device_templates import TemplateName, collapse_id
from shared.domain.events import LobEvent
from shared.domain.languages import SUPPORTED_LANGUAGES
from shared.domain.records import Preferences
from shared.domain.rules import debit_reaches_owner, delivery_template
from shared.domain.secure_content import SecureItem
from shared.domain.secure_payload import neutral_properties
from shared.notification_hubs.tag_expressions import parse_tag_expression

__all__ = [
    "NotificationPlan",
    "Skip",
    "inbox_item",
    "plan_notification",
    "recipient_user_id",
    "send_properties",
]


@dataclass(frozen=True)
class NotificationPlan:
    """One template send: ``audience`` is the full tag expression, already narrowed to ``template``."""

    audience: str
    template: TemplateName
    properties: dict[str, str]
    priority: Priority
    ttl_seconds: int
    recipient_user_id: str | None
    # Secure-payload mode: what the recipient's inbox must hold before the (neutral) push goes out.
    secure_item: SecureItem | None = None


@dataclass(frozen=True)
class Skip:
    """Nothing to send for this event, and why (recorded in the delivery log)."""

    reason: str


def recipient_user_id(event: LobEvent) -> str | None:
    """The user whose preferences decide this event's delivery, or ``None`` for a topic broadcast."""
    return _entry(event).recipient(event.data)


def plan_notification(event: LobEvent, recipient: Preferences | None, now: datetime) -> NotificationPlan | Skip:
    """Plan the send for ``event``; ``recipient`` is the addressed user's preferences (``None``: defaults).

    A debit under the owner's threshold is skipped. An alert inside the recipient's quiet hours becomes silent.
    Raises ValueError when ``recipient`` belongs to another user than the event addresses, or ``now`` is naive;
    NhValidationError if the audience is not a valid NH tag expression (a catalog bug).
    """
    entry = _entry(event)
    user_id = entry.recipient(event.data)
    if recipient is not None and recipient.user_id != user_id:
        raise ValueError(f"preferences of {recipient.user_id!r} given for an event addressed to {user_id!r}")
    if isinstance(event.data, DebitPosted):
        threshold = None if recipient is None else recipient.debit_threshold
        if not debit_reaches_owner(event.data.amount, threshold):
            return Skip("debit_below_threshold")
    template = delivery_template(
        entry.delivery,
        None if recipient is None else recipient.quiet_hours,
        now,
        addressed_to_user=user_id is not None,
    )
    audience = f"({entry.audience(event.data)}) && {template}"
    parse_tag_expression(audience)
    properties = send_properties(event)
    if user_id is not None:  # the id of the user's inbox entry, for the app's /me/notifications/{id} calls
        properties["notificationId"] = event.notification_id
    inbox = None
    if entry.sensitive and user_id is not None:
        inbox = inbox_item(event, user_id, properties, now)
        properties = neutral_properties(event.notification_id, collapse_key=event.key, event_id=event.id)
    return NotificationPlan(
        audience=audience,
        template=template,
        properties=properties,
        priority=entry.priority,
        ttl_seconds=int(entry.ttl.total_seconds()),
        recipient_user_id=user_id,
        secure_item=inbox,
    )


def inbox_item(event: LobEvent, user_id: str, properties: dict[str, str], now: datetime) -> SecureItem:
    """The inbox entry of ``event`` for ``user_id``: its text in every language (from ``send_properties``)."""
    return SecureItem(
        user_id=user_id,
        notification_id=event.notification_id,
        source="event",
        event_type=event.type,
        titles={language: properties[f"title_{language}"] for language in SUPPORTED_LANGUAGES},
        bodies={language: properties[f"body_{language}"] for language in SUPPORTED_LANGUAGES},
        deep_link=properties["deepLink"],
        created_at=now,
    )


def send_properties(event: LobEvent) -> dict[str, str]:
    """The template send's properties: title and body in every supported language, plus the event's data keys."""
    entry = _entry(event)
    key = entry.message_key(event.data)
    properties: dict[str, str] = {}
    for language in SUPPORTED_LANGUAGES:
        message = localized_message(key, event.data, language)
        properties[f"title_{language}"] = message.title
        properties[f"body_{language}"] = message.body
    properties.update(
        eventId=event.id,
        collapseId=collapse_id(event.key),
        eventType=event.type,
        deepLink=entry.link(event.data),
        category=entry.category,
    )
    return properties


def _entry(event: LobEvent) -> CatalogEntry:
    # A LobEvent only comes out of parse_cloud_event, which has already checked the type against the catalog.
    return CATALOG[event.type]
