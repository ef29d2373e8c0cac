"""The emulator's memory: installations (with read-after-write delay), deliveries, notifications, schedules."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from local.nh_emulator.installations import Installation

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


@dataclass
class _Versioned:
    current: Installation | None
    previous: Installation | None
    visible_at: float


class EmulatorState:
    """In-memory store; installations and scheduled sends optionally persisted to a JSON file."""

    def __init__(self, clock: Callable[[], float], read_delay: float = 0.0, state_file: Path | None = None) -> None:
        self._clock = clock
        self._read_delay = read_delay
        self._state_file = state_file
        self._installations: dict[str, _Versioned] = {}
        self.deliveries: list[Delivery] = []
        self.notifications: dict[str, NotificationRecord] = {}
        self.scheduled: dict[str, ScheduledSend] = {}
        # Channels the PNS refuses (the app was uninstalled, the token rotated): push channel -> telemetry outcome.
        # NH learns it from the next send to the channel, as the real service does.
        self.dead_channels: dict[str, str] = {}
        self._load()

    def _visible(self, entry: _Versioned) -> Installation | None:
        return entry.current if self._clock() >= entry.visible_at else entry.previous

    def put_installation(self, installation: Installation) -> None:
        """Store (or replace) an installation; readers see it after the read delay."""
        entry = self._installations.get(installation["installationId"])
        previous = self._visible(entry) if entry else None
        self._installations[installation["installationId"]] = _Versioned(
            installation, previous, self._clock() + self._read_delay
        )
        self.save()

    def delete_installation(self, installation_id: str) -> None:
        """Remove an installation (no error when it does not exist, as NH)."""
        entry = self._installations.get(installation_id)
        if entry is None:
            return
        self._installations[installation_id] = _Versioned(None, self._visible(entry), self._clock() + self._read_delay)
        self.save()

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

    def mark_channel_expired(self, installation_id: str) -> None:
        """Record PNS feedback: the installation's channel is dead (pushChannelExpired=true)."""
        entry = self._installations.get(installation_id)
        if entry is None:
            return
        for version in (entry.current, entry.previous):
            if version is not None and version["installationId"] == installation_id:
                version["pushChannelExpired"] = True
        self.save()

    def add_scheduled(self, scheduled: ScheduledSend) -> None:
        """Keep a scheduled send until it fires or is cancelled."""
        self.scheduled[scheduled.scheduled_id] = scheduled
        self.save()

    def pop_scheduled(self, scheduled_id: str) -> ScheduledSend | None:
        """Take a scheduled send out (fired or cancelled)."""
        found = self.scheduled.pop(scheduled_id, None)
        if found is not None:
            self.save()
        return found

    def reset(self) -> None:
        """Forget everything (DELETE /_emulator/state)."""
        self._installations.clear()
        self.deliveries.clear()
        self.notifications.clear()
        self.scheduled.clear()
        self.dead_channels.clear()
        self.save()

    def save(self) -> None:
        """Write installations and scheduled sends to the state file, if there is one (atomically)."""
        if self._state_file is None:
            return
        data = {
            "installations": [entry.current for entry in self._installations.values() if entry.current is not None],
            "scheduled": [asdict(item) for item in self.scheduled.values()],
        }
        temporary = self._state_file.with_suffix(self._state_file.suffix + ".tmp")
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(temporary, self._state_file)

    def _load(self) -> None:
        if self._state_file is None or not self._state_file.exists():
            return
        data = json.loads(self._state_file.read_text(encoding="utf-8"))
        for installation in data.get("installations", []):
            self._installations[installation["installationId"]] = _Versioned(installation, None, 0.0)
        for item in data.get("scheduled", []):
            scheduled = ScheduledSend(**item)
            self.scheduled[scheduled.scheduled_id] = scheduled
        logger.info("Loaded %d installations and %d scheduled sends", len(self._installations), len(self.scheduled))
