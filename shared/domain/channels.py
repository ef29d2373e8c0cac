"""Which channels carry a notification: the channel policy of a catalog entry, decided against presence, and the
in-app message the app receives over SignalR.

Policies:
- ``push``: Notification Hubs only (broadcasts such as HR news, background refreshes).
- ``inapp-first``: one user's notification; in-app when the user has the app open, push otherwise, and push as
  well when the app does not confirm it (``seen``) within the entry's fallback delay.
- ``inapp-and-push``: critical; both channels at once, with one id, so an app that gets both shows one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.domain.catalog import CATALOG, localized_message
from shared.domain.catalog.entries import CHANNEL_POLICIES, ChannelPolicy
from shared.domain.events import LobEvent

__all__ = [
    "CHANNEL_POLICIES",
    "FALLBACK_SUBSCRIPTION",
    "FALLBACK_TOPIC",
    "INAPP_HUB",
    "INAPP_TARGET",
    "ChannelPolicy",
    "InAppMessage",
    "Route",
    "choose_route",
    "in_app_message",
]

INAPP_HUB = "notifications"  # the SignalR hub the app connects to
INAPP_TARGET = "notification"  # the client method an in-app message invokes
# Where the durable wait for a confirmation lives: a scheduled message on this topic, taken by this subscription.
FALLBACK_TOPIC = "realtime"
FALLBACK_SUBSCRIPTION = "fallback"


class Route(StrEnum):
    """What one event's delivery does."""

    PUSH = "push"  # push only
    INAPP_CONFIRMED = "inapp-confirmed"  # in-app now; push later unless seen in time
    INAPP_AND_PUSH = "inapp-and-push"  # both now


def choose_route(policy: ChannelPolicy, *, addressed_to_user: bool, connected: bool) -> Route:
    """The route for an event: in-app only for one user's notification and only while that user is connected.

    A broadcast has no single user to ask presence of, so it is always pushed, whatever its policy.
    """
    if policy == "push" or not addressed_to_user or not connected:
        return Route.PUSH
    return Route.INAPP_CONFIRMED if policy == "inapp-first" else Route.INAPP_AND_PUSH


@dataclass(frozen=True)
class InAppMessage:
    """The one argument of the ``notification`` invocation: the same text the push carries, in one language."""

    id: str  # the event's notification id (LobEvent.notification_id), also its inbox entry's
    type: str
    title: str
    body: str
    language: str
    created_at: datetime
    deep_link: str
    category: str
    silent: bool  # inside the user's quiet hours: show it in the list, without sound or banner
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "title": self.title,
            "body": self.body,
            "language": self.language,
            "createdAt": self.created_at.isoformat(),
            "deepLink": self.deep_link,
            "category": self.category,
            "silent": self.silent,
            "data": self.data,
        }


def in_app_message(event: LobEvent, language: str, created_at: datetime, *, silent: bool) -> InAppMessage:
    """The in-app message for ``event`` in ``language`` (a supported language). Raises KeyError for an unknown
    language or an event type outside the catalog (parse_cloud_event already refused those)."""
    entry = CATALOG[event.type]
    text = localized_message(entry.message_key(event.data), event.data, language)
    return InAppMessage(
        id=event.notification_id,
        type=event.type,
        title=text.title,
        body=text.body,
        language=language,
        created_at=created_at,
        deep_link=entry.link(event.data),
        category=entry.category,
        silent=silent,
        data=event.data.model_dump(mode="json", by_alias=True),
    )
