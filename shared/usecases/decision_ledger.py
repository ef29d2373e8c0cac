"""Use cases: reading the decision ledger ("did Alice get the debit alert, and if not, why?") and keeping it bounded.

A user's view has two parts: the decisions addressed to the user (the ledger's user rows, paged), and the topic
broadcasts of the same window, each explained for the user against their devices' tags as they are now (reached,
``not_interested`` or ``no_device``): a broadcast is recorded once per event, not once per recipient.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.domain.decisions import Decision, explain_broadcast
from shared.ports import DecisionLedger, DecisionPage, InstallationMirror
from shared.usecases.commands import EventDeliveriesQuery, UserDeliveriesQuery

__all__ = [
    "UserDeliveries",
    "deliveries_for_event",
    "deliveries_for_user",
    "recent_decisions",
    "sweep_decisions",
]

MAX_BROADCASTS = 50


@dataclass(frozen=True)
class UserDeliveries:
    """A page of a user's decisions; ``broadcasts`` (first page only) are the window's broadcasts as they read for
    the user."""

    page: DecisionPage
    broadcasts: list[Decision] = field(default_factory=list)


async def deliveries_for_event(ledger: DecisionLedger, query: EventDeliveriesQuery) -> DecisionPage:
    """Every decision on one event. Raises UpstreamError, ValidationError for a bad cursor."""
    return await ledger.for_event(query.event_id, limit=query.limit, cursor=query.cursor)


async def deliveries_for_user(
    ledger: DecisionLedger, installations: InstallationMirror, query: UserDeliveriesQuery
) -> UserDeliveries:
    """The user's decisions since ``query.since``, newest first, and on the first page the broadcasts of the window
    explained for the user. Raises UpstreamError, ValidationError for a bad cursor."""
    page = await ledger.for_user(query.user_id, since=query.since, limit=query.limit, cursor=query.cursor)
    if query.cursor is not None:
        return UserDeliveries(page)
    broadcasts = await ledger.broadcasts(since=query.since, limit=min(query.limit, MAX_BROADCASTS))
    if not broadcasts.items:
        return UserDeliveries(page)
    devices = [record.tags for record in await installations.list_for_user(query.user_id)]
    return UserDeliveries(page, [explain_broadcast(item, query.user_id, devices) for item in broadcasts.items])


async def recent_decisions(ledger: DecisionLedger, *, now: datetime, minutes: int, limit: int) -> list[Decision]:
    """The newest decisions on events of the last ``minutes``. Raises UpstreamError."""
    return await ledger.recent(since=now - timedelta(minutes=minutes), until=now, limit=limit)


async def sweep_decisions(ledger: DecisionLedger, *, now: datetime) -> int:
    """Delete the decisions whose retention has ended; returns how many rows went. Raises UpstreamError."""
    return await ledger.sweep(expired_before=now)
