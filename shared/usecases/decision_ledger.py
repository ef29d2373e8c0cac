"""Use cases: reading the decision ledger ("did Alice get the debit alert, and if not, why?") and keeping it bounded.

Four questions, one per combination of event and user: an event's decisions, a user's, a user's on one event, and
the newest of all (the console's feed). A user's view has two parts: the decisions addressed to the user (the
ledger's user rows, paged), and the topic broadcasts of the same window (or event), each explained for the user
against their devices' tags as they are now (reached, ``not_interested`` or ``no_device``): a broadcast is recorded
once per event, not once per recipient.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.domain.decisions import Decision, explain_broadcast
from shared.ports import DecisionLedger, DecisionPage, InstallationMirror
from shared.usecases.commands import DecisionFeedQuery, EventDeliveriesQuery, UserDeliveriesQuery

__all__ = [
    "UserDeliveries",
    "decision_feed",
    "deliveries_for_event",
    "deliveries_for_user",
    "recent_decisions",
    "sweep_decisions",
]

MAX_BROADCASTS = 50


@dataclass(frozen=True)
class UserDeliveries:
    """A page of decisions; in a user's view, ``broadcasts`` are the broadcasts as they read for the user (the
    window's on a first page, or the event's)."""

    page: DecisionPage
    broadcasts: list[Decision] = field(default_factory=list)


async def deliveries_for_event(
    ledger: DecisionLedger, installations: InstallationMirror, query: EventDeliveriesQuery
) -> UserDeliveries:
    """The decisions on one event, a page of the event's records at a time. With ``query.user_id``: only that user's,
    and the page's broadcast records explained for the user (an event has a handful of records, so filtering the
    page costs little; a filtered page may be shorter than ``limit`` and still have a next one). With
    ``query.since``: nothing when the event occurred earlier. Raises UpstreamError, ValidationError for a bad
    cursor."""
    page = await ledger.for_event(query.event_id, limit=query.limit, cursor=query.cursor)
    since = query.since
    items = [d for d in page.items if since is None or d.occurred_at >= since]
    if query.user_id is None:
        return UserDeliveries(DecisionPage(items, page.cursor))
    mine = DecisionPage([d for d in items if d.user_id == query.user_id], page.cursor)
    broadcasts = [d for d in items if d.broadcast]
    return UserDeliveries(mine, await _as_read_by(installations, query.user_id, broadcasts))


async def deliveries_for_user(
    ledger: DecisionLedger, installations: InstallationMirror, query: UserDeliveriesQuery
) -> UserDeliveries:
    """The user's decisions since ``query.since``, newest first, and on the first page the broadcasts of the window
    explained for the user. Raises UpstreamError, ValidationError for a bad cursor."""
    page = await ledger.for_user(query.user_id, since=query.since, limit=query.limit, cursor=query.cursor)
    if query.cursor is not None:
        return UserDeliveries(page)
    broadcasts = await ledger.broadcasts(since=query.since, limit=min(query.limit, MAX_BROADCASTS))
    return UserDeliveries(page, await _as_read_by(installations, query.user_id, broadcasts.items))


async def _as_read_by(installations: InstallationMirror, user_id: str, broadcasts: list[Decision]) -> list[Decision]:
    """``broadcasts`` explained for the user against their devices' tags as they are now (read only when needed)."""
    if not broadcasts:
        return []
    devices = [record.tags for record in await installations.list_for_user(user_id)]
    return [explain_broadcast(item, user_id, devices) for item in broadcasts]


async def decision_feed(ledger: DecisionLedger, query: DecisionFeedQuery) -> list[Decision]:
    """The newest decisions of every kind between ``query.since`` and ``query.until``. Raises UpstreamError."""
    return await ledger.recent(since=query.since, until=query.until, limit=query.limit)


async def recent_decisions(ledger: DecisionLedger, *, now: datetime, minutes: int, limit: int) -> list[Decision]:
    """The newest decisions on events of the last ``minutes``. Raises UpstreamError."""
    return await decision_feed(ledger, DecisionFeedQuery(now - timedelta(minutes=minutes), now, limit))


async def sweep_decisions(ledger: DecisionLedger, *, now: datetime) -> int:
    """Delete the decisions whose retention has ended; returns how many rows went. Raises UpstreamError."""
    return await ledger.sweep(expired_before=now)
