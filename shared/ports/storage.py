"""Storage ports: the installations mirror, preferences, the delivery log and the quarantine."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from shared.domain.records import (
    Claim,
    DeliveryRecord,
    FinishReport,
    InstallationRecord,
    Preferences,
    QuarantinedMessage,
)

__all__ = ["DeliveryLog", "InstallationMirror", "PreferencesStore", "QuarantineStore"]


class InstallationMirror(Protocol):
    """The Tables mirror of NH installations. All methods raise UpstreamError subclasses on storage failures."""

    async def claim(
        self, installation_id: str, user_id: str, *, now: datetime, push_channel_hash: str | None = None
    ) -> bool:
        """Make ``user_id`` the owner of ``installation_id`` unless another user is; True when the caller owns it.

        Atomic (insert-if-absent): of concurrent claims by different users exactly one returns True. A new claim
        remembers ``push_channel_hash`` (saves the upsert a write); an existing claim is not changed.
        """
        ...

    async def claim_and_write(self, record: InstallationRecord, previous: InstallationRecord | None) -> bool:
        """``claim`` for ``record.user_id`` (with the record's channel), then, if the caller owns the id, ``upsert``
        without reading again (``previous``: the caller's row as just read). False, nothing written, otherwise."""
        ...

    async def upsert(self, record: InstallationRecord) -> None: ...
    async def set_state(self, user_id: str, installation_id: str, state: str) -> bool:
        """Change only the state of an existing row (one conditional merge); False when the row does not exist."""
        ...

    async def get(self, user_id: str, installation_id: str) -> InstallationRecord | None: ...
    async def find_owner(self, installation_id: str) -> str | None:
        """The user who claimed the id, or None."""
        ...

    async def find_by_channel(self, push_channel_hash: str) -> list[InstallationRecord]: ...
    async def list_for_user(self, user_id: str) -> list[InstallationRecord]: ...
    async def list_all(self) -> list[InstallationRecord]: ...
    async def delete(self, user_id: str, installation_id: str) -> None:
        """Remove the user's row and the user's claim (never another user's). Idempotent: no error when gone."""
        ...


class PreferencesStore(Protocol):
    async def get(self, user_id: str) -> Preferences | None: ...
    async def put(self, preferences: Preferences) -> None: ...


class DeliveryLog(Protocol):
    """Idempotency and audit for deliveries, keyed by (event id, subscription)."""

    async def claim(self, event_id: str, subscription: str, *, now: datetime, stale_after: timedelta) -> Claim:
        """Insert-if-absent; an existing fresh claim gives IN_PROGRESS, a stale one RESUMED, a finished one DONE."""
        ...

    async def claim_many(
        self, event_ids: Sequence[str], subscription: str, *, now: datetime, stale_after: timedelta
    ) -> dict[str, Claim]:
        """What ``claim`` answers for each of several distinct events, in as few storage round trips as it can.

        Raises like ``claim``; then none of the claims it made is left held.
        """
        ...

    async def finish(self, claim: Claim, record: DeliveryRecord) -> None:
        """Write the final state of a claimed delivery. Raises ConflictError if another delivery took it over."""
        ...

    async def finish_many(self, outcomes: Sequence[tuple[Claim, DeliveryRecord]]) -> FinishReport:
        """``finish`` for several claims at once; reports conflicts and transiently unwritten rows instead of raising.

        Raises UpstreamError only for a permanent storage refusal.
        """
        ...

    async def release(self, claim: Claim) -> None:
        """Give a claim up after a transient failure so that the redelivered message may claim it at once."""
        ...

    async def forget(self, event_id: str, subscription: str) -> None:
        """Delete the record (an operator replays the event after a fix). Idempotent."""
        ...

    async def get(self, event_id: str, subscription: str) -> DeliveryRecord | None: ...


class QuarantineStore(Protocol):
    async def add(self, message: QuarantinedMessage) -> None: ...
    async def list(self) -> list[QuarantinedMessage]: ...
    async def get(self, quarantine_id: str) -> QuarantinedMessage | None: ...
    async def mark_replayed(self, quarantine_id: str, at: datetime) -> None: ...
