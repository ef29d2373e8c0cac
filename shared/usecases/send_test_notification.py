"""Use case: a test push to the caller's own devices, answered with NH's per-device outcome."""

from __future__ import annotations

from typing import Any

from shared.domain.device_templates import collapse_id
from shared.domain.identity import Identity
from shared.domain.languages import SUPPORTED_LANGUAGES
from shared.domain.tag_policy import user_tag
from shared.notification_hubs.models import NotificationOutcome, template_notification
from shared.ports import PushGateway

__all__ = ["outcome_view", "send_test_notification"]

_TITLES = {"en": "Test notification", "de": "Testbenachrichtigung", "es": "Notificación de prueba"}
_BODIES = {
    "en": "Push notifications reach this device.",
    "de": "Push-Benachrichtigungen erreichen dieses Gerät.",
    "es": "Las notificaciones push llegan a este dispositivo.",
}


async def send_test_notification(push: PushGateway, identity: Identity) -> NotificationOutcome:
    """NH's debug send to the caller's devices (alert template). Raises UpstreamError subclasses."""
    properties = {
        "eventId": "test",
        "collapseId": collapse_id("test"),  # a second test notification replaces the first on the device
        "eventType": "push.test",
        "deepLink": "enterprisepush://settings",
        "category": "test",
    }
    for language in SUPPORTED_LANGUAGES:
        properties[f"title_{language}"] = _TITLES.get(language, _TITLES["en"])
        properties[f"body_{language}"] = _BODIES.get(language, _BODIES["en"])
    expression = f"{user_tag(identity.user_id)} && alert"
    return await push.test_send(template_notification(properties), tag_expression=expression)


def outcome_view(outcome: NotificationOutcome) -> dict[str, Any]:
    """The outcome as the API returns it: push handles shortened so they never leave the backend whole."""
    return {
        "success": outcome.success,
        "failure": outcome.failure,
        "results": [
            {
                "platform": result.application_platform,
                "pushChannelHint": (result.pns_handle or "")[-6:],
                "outcome": result.outcome,
            }
            for result in outcome.results
        ],
    }
