"""Use case: a signed-in user reads one notification of their inbox (the content behind a secure push)."""

from __future__ import annotations

from shared.domain.errors import NotFoundError
from shared.domain.identity import Identity
from shared.domain.languages import DEFAULT_LANGUAGE
from shared.domain.secure_content import SecureItem
from shared.ports import InstallationMirror, PreferencesStore, SecureContentStore

__all__ = ["read_my_notification"]

MAX_NOTIFICATION_ID_LENGTH = 200


async def read_my_notification(
    inbox: SecureContentStore,
    preferences: PreferencesStore,
    installations: InstallationMirror,
    identity: Identity,
    notification_id: str,
) -> tuple[SecureItem, str]:
    """The caller's item and the language to show it in: their saved language, else the language of their most
    recently registered device (the one the neutral push was shown in), else the default.

    Items are looked up under the caller's own user id, so another user's id is simply absent: NotFoundError,
    never a hint that it exists. Raises UpstreamError when storage fails.
    """
    if not notification_id or len(notification_id) > MAX_NOTIFICATION_ID_LENGTH:
        raise NotFoundError("no such notification")
    item = await inbox.get(identity.user_id, notification_id)
    if item is None:
        raise NotFoundError("no such notification")
    saved = await preferences.get(identity.user_id)
    if saved is not None and saved.language:
        return item, saved.language
    devices = await installations.list_for_user(identity.user_id)
    latest = max(devices, key=lambda device: device.updated_at, default=None)
    return item, latest.language if latest is not None else DEFAULT_LANGUAGE
