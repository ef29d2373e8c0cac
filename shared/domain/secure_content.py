"""A notification kept for its recipient to read in the app: the full text behind a secure (neutral) push."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

__all__ = ["SecureItem"]


@dataclass(frozen=True)
class SecureItem:
    """What one user was told, in every supported language; only that user may read it (by ``notification_id``).

    ``source`` is ``event`` (a LoB event; the id is its notification id, a digest of ``source#id``) or ``campaign``
    (an operator's send; the id is the campaign id).
    """

    user_id: str
    notification_id: str
    source: str
    event_type: str
    titles: Mapping[str, str]
    bodies: Mapping[str, str]
    deep_link: str | None
    created_at: datetime
    sensitive: bool = True

    def text(self, language: str, default_language: str) -> tuple[str, str]:
        """Title and body in ``language``, else in ``default_language``."""
        chosen = language if language in self.titles else default_language
        return self.titles[chosen], self.bodies[chosen]
