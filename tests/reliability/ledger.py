"""Pure accounting of a run: what each sent event became, counted from the emulator and the dead-letter listing."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Outcome", "Tally", "count_outcomes", "delivery_counts", "event_id_in", "markdown_table"]


@dataclass(frozen=True)
class Outcome:
    """What one event became: pushes per installation, and the dead-letter/quarantine entry if there is one."""

    event_id: str
    expected_installation: str
    pushes: Mapping[str, int]
    dead_letter: tuple[str, str] | None = None
    """(kind, reason): kind is ``deadletter`` or ``quarantine``."""

    @property
    def delivered(self) -> bool:
        return self.pushes.get(self.expected_installation, 0) >= 1

    @property
    def duplicates(self) -> int:
        return sum(max(0, count - 1) for count in self.pushes.values())

    @property
    def misrouted(self) -> int:
        return sum(count for installation, count in self.pushes.items() if installation != self.expected_installation)

    @property
    def lost(self) -> bool:
        return not self.delivered and self.dead_letter is None


@dataclass
class Tally:
    """The row of the result table for one scenario."""

    scenario: str
    sent: int = 0
    delivered: int = 0
    duplicates: int = 0
    misrouted: int = 0
    dead_lettered: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    delivered_and_dead_lettered: int = 0
    lost_ids: list[str] = field(default_factory=list)
    duplicate_ids: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def accounted(self) -> int:
        return self.sent - self.lost

    def as_row(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "sent": self.sent,
            "delivered": self.delivered,
            "duplicates": self.duplicates,
            "misrouted": self.misrouted,
            "dead-lettered": _by_reason(self.dead_lettered),
            "quarantined": _by_reason(self.quarantined),
            "lost": self.lost,
        }


def _by_reason(counts: Counter[str]) -> str:
    if not counts:
        return "0"
    return f"{sum(counts.values())} (" + ", ".join(f"{reason}: {n}" for reason, n in sorted(counts.items())) + ")"


def delivery_counts(deliveries: Iterable[Mapping[str, Any]], event_ids: set[str]) -> dict[str, Counter[str]]:
    """Pushes per event id per installation, from the emulator's /_emulator/deliveries (only ``event_ids``).

    A delivery's event id is its ``eventId`` key when the caller resolved it, else the one in its payload.
    """
    counts: dict[str, Counter[str]] = {}
    for delivery in deliveries:
        event_id = delivery.get("eventId") or event_id_in(delivery.get("payload"))
        if event_id in event_ids:
            counts.setdefault(event_id, Counter())[str(delivery["installationId"])] += 1
    return counts


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
        if 'eventId="' in payload:  # WNS toast XML
            return payload.split('eventId="', 1)[1].split('"', 1)[0]
        try:
            return event_id_in(json.loads(payload))
        except ValueError:
            return None
    return None


def count_outcomes(
    scenario: str,
    expected: Mapping[str, str],
    deliveries: Iterable[Mapping[str, Any]],
    dead_letters: Iterable[Mapping[str, Any]],
) -> Tally:
    """Tally a run. ``expected`` maps each sent event id to the one installation that should get it;
    ``dead_letters`` are the items of GET /api/deadletters (their messageId is ``source#id``)."""
    ids = set(expected)
    pushes = delivery_counts(deliveries, ids)
    parked: dict[str, tuple[str, str]] = {}
    for item in dead_letters:
        event_id = str(item.get("messageId") or "").partition("#")[2]
        if event_id in ids and not item.get("replayedAt"):
            parked[event_id] = (str(item["kind"]), str(item["reason"]))
    tally = Tally(scenario, sent=len(expected))
    for event_id, installation in expected.items():
        outcome = Outcome(event_id, installation, pushes.get(event_id, Counter()), parked.get(event_id))
        tally.delivered += outcome.delivered
        tally.duplicates += outcome.duplicates
        tally.misrouted += outcome.misrouted
        if outcome.duplicates:
            tally.duplicate_ids.append(event_id)
        if outcome.dead_letter is not None:
            kind, reason = outcome.dead_letter
            (tally.quarantined if kind == "quarantine" else tally.dead_lettered)[reason] += 1
            tally.delivered_and_dead_lettered += outcome.delivered
        if outcome.lost:
            tally.lost += 1
            tally.lost_ids.append(event_id)
    return tally


def markdown_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """A GitHub-flavoured Markdown table of dict rows (the keys of the first row are the columns)."""
    rows = list(rows)
    if not rows:
        return ""
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(str(row.get(column, "")) for column in columns) + " |" for row in rows]
    return "\n".join(lines)
