"""Pure accounting of a run, from what the outside world recorded: the NH emulator (sends it processed, pushes each
device received, notifications each screen shows) and the operator's dead-letter listing."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from local.nh_emulator.devices import delivery_from_json, is_alert
from shared.domain.events import EVENT_KEY_SEPARATOR

__all__ = ["Observed", "Tally", "count_outcomes", "event_id_in", "markdown_table", "observe"]


@dataclass(frozen=True)
class Observed:
    """One look at the outside world, by event id."""

    sends: Counter[str]
    """Template sends NH processed per event (a send whose answer was lost counts too)."""
    received: Mapping[str, Counter[str]]
    """Pushes each installation received per event (alerts and silent pushes)."""
    alerted: Mapping[str, Counter[str]]
    """Alerts (pushes meant for the screen) each installation received per event."""
    shown: Mapping[str, Counter[str]]
    """Notifications each installation's screen shows per event, after collapsing."""
    parked: Mapping[str, tuple[str, str]]
    """Event id (from the message id, ``source#id``) -> (``deadletter`` or ``quarantine``, reason), not replayed."""


def observe(
    notifications: Iterable[Mapping[str, Any]],
    deliveries: Iterable[Mapping[str, Any]],
    devices: Iterable[Mapping[str, Any]],
    dead_letters: Iterable[Mapping[str, Any]],
) -> Observed:
    """Index the emulator's ``/_emulator/notifications``, ``/deliveries`` and ``/devices`` and the items of
    ``GET /api/deadletters`` by event id. A push's event id is the ``eventId`` in its payload or, for payloads
    without one (a WNS toast), the ``eventId`` property of the send that caused it."""
    by_notification: dict[str, str] = {}
    sends: Counter[str] = Counter()
    for record in notifications:
        event_id = _send_event_id(record)
        if event_id is not None:
            by_notification[str(record["notification_id"])] = event_id
            sends[event_id] += 1

    def event_of(push: Mapping[str, Any]) -> str | None:
        return event_id_in(push.get("payload")) or by_notification.get(str(push.get("notificationId")))

    received: dict[str, Counter[str]] = {}
    alerted: dict[str, Counter[str]] = {}
    for push in deliveries:
        event_id = event_of(push)
        if event_id is not None and push.get("installationId"):
            received.setdefault(event_id, Counter())[str(push["installationId"])] += 1
            if is_alert(delivery_from_json(push)):
                alerted.setdefault(event_id, Counter())[str(push["installationId"])] += 1
    shown: dict[str, Counter[str]] = {}
    for device in devices:
        for entry in device.get("shown", []):
            event_id = event_of(entry)
            if event_id is not None:
                shown.setdefault(event_id, Counter())[str(device["installationId"])] += 1
    parked = {
        _event_id_of_message(str(item["messageId"])): (str(item["kind"]), str(item["reason"]))
        for item in dead_letters
        if item.get("messageId") and not item.get("replayedAt")
    }
    return Observed(sends, received, alerted, shown, parked)


def _event_id_of_message(message_id: str) -> str:
    """The event id in a Service Bus message id: the app publishes each event as ``source#id``
    (shared.domain.events.event_key); a message published otherwise (a test feeding a function) keeps its own id."""
    _, separator, event_id = message_id.partition(EVENT_KEY_SEPARATOR)
    return event_id if separator else message_id


def _send_event_id(record: Mapping[str, Any]) -> str | None:
    try:
        properties = json.loads(str(record.get("body") or ""))
    except ValueError:
        return None
    value = properties.get("eventId") if isinstance(properties, dict) else None
    return value if isinstance(value, str) else None


@dataclass
class Tally:
    """The result row of one scenario, counted from the outside world."""

    scenario: str
    sent: int = 0
    expected_delivered: int = 0
    delivered: int = 0
    lost: int = 0
    not_shown: int = 0
    """Events whose alert reached the device but which its screen does not show (another event's replaced it)."""
    nh_duplicate_sends: int = 0
    received_duplicates: int = 0
    visible_duplicates: int = 0
    misrouted: int = 0
    dead_lettered: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    expected_dead_lettered: int = 0
    expected_quarantined: int = 0
    delivered_and_parked: int = 0
    lost_ids: list[str] = field(default_factory=list)
    nh_duplicate_ids: list[str] = field(default_factory=list)
    visible_duplicate_ids: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "sent": self.sent,
            "should reach a device": self.expected_delivered,
            "delivered": self.delivered,
            "lost": self.lost,
            "sent twice to NH": self.nh_duplicate_sends,
            "received twice": self.received_duplicates,
            "seen twice": self.visible_duplicates,
            "dead-lettered (expected)": f"{_by_reason(self.dead_lettered)} ({self.expected_dead_lettered})",
            "quarantined (expected)": f"{_by_reason(self.quarantined)} ({self.expected_quarantined})",
            "misrouted": self.misrouted,
        }


def _by_reason(counts: Counter[str]) -> str:
    if not counts:
        return "0"
    return f"{sum(counts.values())}: " + ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items()))


def count_outcomes(
    scenario: str,
    expected: Mapping[str, str | None],
    observed: Observed,
    *,
    expected_dead_lettered: int = 0,
    expected_quarantined: int = 0,
) -> Tally:
    """Tally a run. ``expected`` maps each sent event id to the one installation that must receive it (None: an
    event that should reach nobody, e.g. one the scenario expects to be quarantined)."""
    tally = Tally(
        scenario,
        sent=len(expected),
        expected_dead_lettered=expected_dead_lettered,
        expected_quarantined=expected_quarantined,
    )
    for event_id, installation in expected.items():
        received = observed.received.get(event_id, Counter())
        shown = observed.shown.get(event_id, Counter())
        extra_sends = max(0, observed.sends.get(event_id, 0) - 1)
        tally.nh_duplicate_sends += extra_sends
        if extra_sends:
            tally.nh_duplicate_ids.append(event_id)
        tally.received_duplicates += sum(max(0, n - 1) for n in received.values())
        extra_shown = sum(max(0, n - 1) for n in shown.values())
        tally.visible_duplicates += extra_shown
        if extra_shown:
            tally.visible_duplicate_ids.append(event_id)
        tally.misrouted += sum(n for target, n in received.items() if target != installation)
        parked = observed.parked.get(event_id)
        if parked is not None:
            kind, reason = parked
            (tally.quarantined if kind == "quarantine" else tally.dead_lettered)[reason] += 1
        if installation is None:
            continue
        tally.expected_delivered += 1
        if received.get(installation, 0) >= 1:
            tally.delivered += 1
            tally.delivered_and_parked += parked is not None
            alerts = observed.alerted.get(event_id, Counter())
            tally.not_shown += alerts.get(installation, 0) > 0 and shown.get(installation, 0) == 0
        else:
            tally.lost += 1
            tally.lost_ids.append(event_id)
    return tally


def event_id_in(payload: Any) -> str | None:
    """The eventId in a delivered payload (APNs/FCM JSON, the WNS raw XML attribute); None when it has none."""
    if isinstance(payload, Mapping):
        if isinstance(payload.get("eventId"), str):
            return str(payload["eventId"])
        for value in payload.values():
            found = event_id_in(value)
            if found is not None:
                return found
        return None
    if isinstance(payload, str):
        if 'eventId="' in payload:  # WNS raw XML
            return payload.split('eventId="', 1)[1].split('"', 1)[0]
        try:
            return event_id_in(json.loads(payload))
        except ValueError:
            return None
    return None


def markdown_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """A GitHub-flavoured Markdown table of dict rows (the keys of the first row are the columns)."""
    rows = list(rows)
    if not rows:
        return ""
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(str(row.get(column, "")) for column in columns) + " |" for row in rows]
    return "\n".join(lines)
