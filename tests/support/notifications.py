"""What a test needs to find an event's notification: the id the app knows it by."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.domain.events import event_key, notification_id


def notification_of(cloud_event: Mapping[str, Any]) -> str:
    """The id of ``cloud_event``'s notification: its inbox entry, its in-app message, ``notificationId`` in its push."""
    return notification_id(event_key(cloud_event["source"], cloud_event["id"]))
