"""The decision ledger port: record what the pipeline decided, and read it back by event, by user and by time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.domain.decisions import Decision

__all__ = ["LEDGER_CURSOR_PATTERN", "AudienceCounter", "DecisionLedger", "DecisionPage"]

# A page cursor is a position in the queried list (the next page starts after it). Every string of this shape is a
# position, so every cursor the API's contract admits can be answered; others are a ValidationError.
LEDGER_CURSOR_PATTERN = r"^[A-Za-z0-9_\-@.:=~]{1,1024}$"


@dataclass(frozen=True)
class DecisionPage:
    """One page of decisions, newest first; ``cursor`` fetches the next page (``None``: this was the last)."""

    items: list[Decision]
    cursor: str | None = None


class DecisionLedger(Protocol):
    """Decisions keyed by (event, recipient, channel); a decision on the same key replaces the earlier one.

    Every method raises UpstreamError (UpstreamUnavailableError when transient) on storage failures, and
    ValidationError for a cursor that does not match LEDGER_CURSOR_PATTERN.
    """

    async def record(self, decision: Decision) -> None: ...

    async def for_event(self, event_id: str, *, limit: int, cursor: str | None = None) -> DecisionPage:
        """Every recipient's decision on one event (broadcasts: the one record)."""
        ...

    async def for_user(self, user_id: str, *, since: datetime, limit: int, cursor: str | None = None) -> DecisionPage:
        """Decisions addressed to one user on events that occurred at or after ``since``, newest first."""
        ...

    async def broadcasts(self, *, since: datetime, limit: int, cursor: str | None = None) -> DecisionPage:
        """Broadcast decisions on events that occurred at or after ``since``, newest first."""
        ...

    async def recent(self, *, since: datetime, until: datetime, limit: int) -> list[Decision]:
        """The newest decisions of every kind on events that occurred between ``since`` and ``until`` (the console's
        feed)."""
        ...

    async def sweep(self, *, expired_before: datetime) -> int:
        """Delete decisions whose retention ended before ``expired_before``; returns how many were deleted."""
        ...


class AudienceCounter(Protocol):
    async def size(self, expression: str) -> int | None:
        """How many devices ``expression`` reaches, or None when that cannot be known now. Never raises."""
        ...
