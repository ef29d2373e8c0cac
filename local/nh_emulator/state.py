"""The emulator's memory: installations (with read-after-write delay), deliveries, notifications, schedules."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from local.nh_emulator.installations import Installation
from local.nh_emulator.journal import Journal
from local.nh_emulator.tag_index import TagIndex
from shared.notification_hubs.tag_expressions import TagExpression

__all__ = ["Delivery", "EmulatorState", "NotificationRecord", "RegistrationResult", "ScheduledSend"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One push as the PNS would have received it for one device."""

    notification_id: str
    installation_id: str | None
    template_name: str | None
    platform: str
    push_channel: str
    headers: dict[str, str]
    payload: str
    received_at: float

    def to_json(self) -> dict[str, Any]:
        """The /_emulator/ JSON shape (camelCase)."""
        return {
            "notificationId": self.notification_id,
            "installationId": self.installation_id,
            "templateName": self.template_name,
            "platform": self.platform,
            "pushChannel": self.push_channel,
            "headers": self.headers,
            "payload": self.payload,
            "receivedAt": self.received_at,
        }


@dataclass(frozen=True)
class RegistrationResult:
    """One line of a test-send outcome."""

    application_platform: str
    pns_handle: str
    registration_id: str
    outcome: str


@dataclass
class NotificationRecord:
    """What NH keeps about one send, for telemetry (NotificationDetails) and test-send outcomes."""

    notification_id: str
    format: str
    body: str
    tag_expression: str | None
    enqueue_time: float
    state: str = "Enqueued"
    start_time: float | None = None
    end_time: float | None = None
    location: str | None = None
    outcome_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    results: list[RegistrationResult] = field(default_factory=list)
    trace_parent: str | None = None  # the send request's W3C traceparent header, for trace-correlation tests

    def count(self, platform: str, outcome: str) -> None:
        """Add one outcome for ``platform``."""
        per_platform = self.outcome_counts.setdefault(platform, {})
        per_platform[outcome] = per_platform.get(outcome, 0) + 1

    def to_json(self) -> dict[str, Any]:
        """The /_emulator/notifications/{id} JSON shape."""
        data = asdict(self)
        data["results"] = [asdict(result) for result in self.results]
        return data


@dataclass(frozen=True)
class ScheduledSend:
    """A send waiting for its time."""

    scheduled_id: str
    due: float
    format: str
    content_type: str
    headers: dict[str, str]
    body: str
    tag_expression: str | None
    location: str | None = None


def _expired(version: Installation | None, installation_id: str) -> Installation | None:
    if version is None or version["installationId"] != installation_id:
        return version
    return {**version, "pushChannelExpired": True}  # a copy: stored versions are never edited in place


@dataclass
class _Versioned:
    current: Installation | None
    previous: Installation | None
    visible_at: float
    position: int


class EmulatorState:
    """In-memory store; installations and scheduled sends optionally persisted to a state file.

    Persistence is incremental (``local.nh_emulator.journal``): each write appends one journal line; the JSON
    snapshot is rewritten in the background once the journal outgrows it, and on close. Installations are indexed by
    tag (``local.nh_emulator.tag_index``, built on the first tag send) so a tag send looks only at installations
    that can match. Stored installations are replaced, never edited in place (a background compaction may be
    serialising them).
    """

    def __init__(self, clock: Callable[[], float], read_delay: float = 0.0, state_file: Path | None = None) -> None:
        self._clock = clock
        self._read_delay = read_delay
        self._journal = Journal(state_file) if state_file is not None else None
        self._installations: dict[str, _Versioned] = {}
        self._index: TagIndex | None = None  # built on the first tag send (restarts stay fast with many devices)
        self._building: set[str] | None = None  # ids written while prepare_index runs
        self._generation = 0  # bumped by reset(): an index built across a reset is thrown away
        self._built: asyncio.Event | None = None  # set when the running prepare_index ends
        self._positions = itertools.count()
        self.deliveries: list[Delivery] = []
        self.notifications: dict[str, NotificationRecord] = {}
        self.scheduled: dict[str, ScheduledSend] = {}
        # Channels the PNS refuses (the app was uninstalled, the token rotated): push channel -> telemetry outcome.
        # NH learns it from the next send to the channel, as the real service does.
        self.dead_channels: dict[str, str] = {}
        self._load()

    def _visible(self, entry: _Versioned) -> Installation | None:
        return entry.current if self._clock() >= entry.visible_at else entry.previous

    def _store(self, installation_id: str, current: Installation | None, entry: _Versioned | None) -> None:
        previous = self._visible(entry) if entry else None
        if self._building is not None:
            self._building.add(installation_id)
        if entry is not None and self._index is not None:
            self._index.remove(installation_id, (entry.current, entry.previous))
        position = entry.position if entry is not None else next(self._positions)
        self._installations[installation_id] = _Versioned(current, previous, self._clock() + self._read_delay, position)
        if self._index is not None:
            self._index.add(installation_id, (current, previous))

    def put_installation(self, installation: Installation) -> None:
        """Store (or replace) an installation; readers see it after the read delay."""
        installation_id = installation["installationId"]
        self._store(installation_id, installation, self._installations.get(installation_id))
        self._persist({"op": "put", "installation": installation})

    def delete_installation(self, installation_id: str) -> None:
        """Remove an installation (no error when it does not exist, as NH)."""
        entry = self._installations.get(installation_id)
        if entry is None:
            return
        self._store(installation_id, None, entry)
        self._persist({"op": "delete", "id": installation_id})

    def latest(self, installation_id: str) -> Installation | None:
        """The newest written version (what a PATCH builds on), visible or not."""
        entry = self._installations.get(installation_id)
        return entry.current if entry else None

    def get(self, installation_id: str) -> Installation | None:
        """What a reader sees now (may lag behind writes by the read delay)."""
        entry = self._installations.get(installation_id)
        return self._visible(entry) if entry else None

    def visible_installations(self) -> list[Installation]:
        """Every installation a reader or a send sees now."""
        found = (self._visible(entry) for entry in self._installations.values())
        return [installation for installation in found if installation is not None]

    def candidate_installations(self, expression: TagExpression | None) -> list[Installation]:
        """Visible installations that may match ``expression`` (a superset, in storage order); None: all of them."""
        ids = self._tag_index().candidates(expression) if expression is not None else None
        if ids is None:
            return self.visible_installations()
        if 4 * len(ids) > len(self._installations):  # most of them: a scan in storage order beats a sort
            entries = [entry for key, entry in self._installations.items() if key in ids]
        else:
            found_entries = (self._installations.get(i) for i in ids)
            entries = sorted((e for e in found_entries if e is not None), key=lambda entry: entry.position)
        found = (self._visible(entry) for entry in entries)
        return [installation for installation in found if installation is not None]

    async def prepare_index(self, chunk: int = 2_000) -> None:
        """Build the tag index, if it is not built yet, ``chunk`` installations at a time, yielding to the event loop
        in between (the first tag send after loading a large state would otherwise stall it for seconds)."""
        if self._built is not None:  # another send is building it
            await self._built.wait()
        if self._index is not None:
            return
        generation, building, self._building = self._generation, TagIndex(), set()
        self._built = asyncio.Event()
        try:
            items = list(self._installations.items())
            for start in range(0, len(items), chunk):
                for installation_id, entry in items[start : start + chunk]:
                    building.add(installation_id, (entry.current, entry.previous))
                await asyncio.sleep(0)
            for installation_id in self._building:  # written meanwhile: file their new versions too (a superset)
                if (written := self._installations.get(installation_id)) is not None:
                    building.add(installation_id, (written.current, written.previous))
            if generation == self._generation and self._index is None:
                self._index = building
        finally:
            self._building = None
            self._built.set()
            self._built = None

    def _tag_index(self) -> TagIndex:
        if self._index is None:
            self._index = TagIndex()
            for installation_id, entry in self._installations.items():
                self._index.add(installation_id, (entry.current, entry.previous))
        return self._index

    def mark_channel_expired(self, installation_id: str) -> None:
        """Record PNS feedback: the installation's channel is dead (pushChannelExpired=true)."""
        entry = self._installations.get(installation_id)
        if entry is None:
            return
        entry.current = _expired(entry.current, installation_id)
        entry.previous = _expired(entry.previous, installation_id)
        if entry.current is not None:
            self._persist({"op": "put", "installation": entry.current})

    def add_scheduled(self, scheduled: ScheduledSend) -> None:
        """Keep a scheduled send until it fires or is cancelled."""
        self.scheduled[scheduled.scheduled_id] = scheduled
        self._persist({"op": "schedule", "scheduled": asdict(scheduled)})

    def pop_scheduled(self, scheduled_id: str) -> ScheduledSend | None:
        """Take a scheduled send out (fired or cancelled)."""
        found = self.scheduled.pop(scheduled_id, None)
        if found is not None:
            self._persist({"op": "unschedule", "id": scheduled_id})
        return found

    def reset(self) -> None:
        """Forget everything (DELETE /_emulator/state)."""
        self._installations.clear()
        self._index = None
        self._generation += 1
        self.deliveries.clear()
        self.notifications.clear()
        self.scheduled.clear()
        self.dead_channels.clear()
        self._persist({"op": "reset"})

    def save(self) -> None:
        """Write the whole state to the state file now (compacting the journal), if there is one."""
        if self._journal is not None:
            self._journal.compact(*self._snapshot(), wait=True)

    def close(self) -> None:
        """Finish persistence: wait for a background compaction and compact what is left (on shutdown)."""
        if self._journal is not None:
            self._journal.join()
            self.save()

    def _persist(self, record: dict[str, Any]) -> None:
        if self._journal is None:
            return
        self._journal.append(record)
        if self._journal.compaction_due(len(self._installations) + len(self.scheduled)):
            self._journal.compact(*self._snapshot(), wait=False)

    def _snapshot(self) -> tuple[list[Installation], list[dict[str, Any]]]:
        installations = [entry.current for entry in self._installations.values() if entry.current is not None]
        return installations, [asdict(item) for item in self.scheduled.values()]

    def _load(self) -> None:
        if self._journal is None:
            return
        loaded = self._journal.load()
        for installation_id, installation in loaded.installations.items():
            self._installations[installation_id] = _Versioned(installation, None, 0.0, next(self._positions))
        for item in loaded.scheduled.values():
            scheduled = ScheduledSend(**item)
            self.scheduled[scheduled.scheduled_id] = scheduled
        logger.info("Loaded %d installations and %d scheduled sends", len(self._installations), len(self.scheduled))
