"""The notification inbox as secure-payload sends need it: keep an item for its user, read it back for that user."""

from __future__ import annotations

from typing import Protocol

from shared.domain.secure_content import SecureItem

__all__ = ["SecureContentStore"]


class SecureContentStore(Protocol):
    """Items are keyed by (user id, notification id): nobody can read another user's item by its id.

    Both methods raise UpstreamError (UpstreamUnavailableError when transient) when storage fails.
    """

    async def get(self, user_id: str, notification_id: str) -> SecureItem | None: ...

    async def put(self, item: SecureItem) -> None:
        """Create or replace the item (a redelivered event writes the same item again)."""
        ...
