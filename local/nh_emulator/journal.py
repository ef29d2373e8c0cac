"""Incremental persistence of the emulator's state: a JSON snapshot plus an append-only journal beside it.

Every write appends one JSON line (``put``/``delete`` of an installation, ``schedule``/``unschedule``, ``reset``) to
``<state file>.journal``, so a write costs the size of what changed, not the size of the state. When the journal
outgrows the live state it is compacted in a background thread: the journal is rotated to ``.journal.old``, the
snapshot (the state file itself, ``{"installations": [...], "scheduled": [...]}``) is rewritten atomically, and the
old journal is removed. Loading reads the snapshot and replays ``.journal.old`` then ``.journal``; replaying is
idempotent, so a crash at any step of a compaction loses nothing. Closing compacts in the foreground.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from local.nh_emulator.installations import Installation

__all__ = ["Journal", "LoadedState"]

logger = logging.getLogger(__name__)

COMPACT_AFTER = 10_000


@dataclass
class LoadedState:
    """What a state file and its journals held."""

    installations: dict[str, Installation] = field(default_factory=dict)
    scheduled: dict[str, dict[str, Any]] = field(default_factory=dict)
    journal_lines: int = 0

    def apply(self, record: dict[str, Any]) -> None:
        """Replay one journal record."""
        op = record.get("op")
        if op == "put":
            installation: Installation = record["installation"]
            self.installations[installation["installationId"]] = installation
        elif op == "delete":
            self.installations.pop(record["id"], None)
        elif op == "schedule":
            self.scheduled[record["scheduled"]["scheduled_id"]] = record["scheduled"]
        elif op == "unschedule":
            self.scheduled.pop(record["id"], None)
        elif op == "reset":
            self.installations.clear()
            self.scheduled.clear()
        else:
            logger.warning("Unknown journal record %r skipped", op)


class Journal:
    """The state file (snapshot) and its append-only journal; thread-safe appends, background compaction."""

    def __init__(self, path: Path, *, compact_after: int | None = None) -> None:
        self.path = path
        self.journal_path = path.with_name(path.name + ".journal")
        self.rotated_path = path.with_name(path.name + ".journal.old")
        self._compact_after = COMPACT_AFTER if compact_after is None else compact_after
        self._lock = threading.Lock()
        self._handle: IO[str] | None = None
        self._lines = 0
        self._worker: threading.Thread | None = None

    def load(self) -> LoadedState:
        """The snapshot with both journals replayed (a torn last line, from a crash mid-write, is skipped)."""
        loaded = LoadedState()
        if self.path.exists():
            data = json.loads(self.path.read_text(encoding="utf-8"))
            loaded.installations = {i["installationId"]: i for i in data.get("installations", [])}
            loaded.scheduled = {s["scheduled_id"]: s for s in data.get("scheduled", [])}
        for journal in (self.rotated_path, self.journal_path):
            if journal.exists():
                loaded.journal_lines += self._replay(journal, loaded)
        self._lines = loaded.journal_lines
        return loaded

    @staticmethod
    def _replay(journal: Path, loaded: LoadedState) -> int:
        count = 0
        with journal.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    logger.warning("%s line %d is incomplete (torn write); skipped", journal.name, number)
                    continue
                loaded.apply(record)
                count += 1
        return count

    def append(self, record: dict[str, Any]) -> None:
        """Write one record at the end of the journal (flushed to the OS before returning)."""
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            if self._handle is None:
                self._handle = self._open_for_append()
            self._handle.write(line)
            self._handle.flush()
            self._lines += 1

    def _open_for_append(self) -> IO[str]:
        torn = False
        if self.journal_path.exists() and self.journal_path.stat().st_size > 0:
            with self.journal_path.open("rb") as existing:
                existing.seek(-1, os.SEEK_END)
                torn = existing.read(1) != b"\n"
        handle = self.journal_path.open("a", encoding="utf-8")
        if torn:
            handle.write("\n")  # end the torn line so the next record starts on its own
        return handle

    def compaction_due(self, live_items: int) -> bool:
        """True when the journal holds more records than the snapshot would, and no compaction is running."""
        busy = self._worker is not None and self._worker.is_alive()
        return not busy and self._lines > max(self._compact_after, live_items)

    def compact(self, installations: list[Installation], scheduled: list[dict[str, Any]], *, wait: bool) -> None:
        """Rotate the journal and rewrite the snapshot from ``installations``/``scheduled`` (the state now).

        The caller must not mutate the given installations afterwards (the state replaces, never edits, them).
        """
        self.join()
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
            if self.journal_path.exists():
                self._rotate()
            self._lines = 0
        data = {"installations": installations, "scheduled": scheduled}
        if wait:
            self._write_snapshot(data)
            return
        self._worker = threading.Thread(target=self._write_snapshot, args=(data,), name="nh-state-compaction")
        self._worker.start()

    def _rotate(self) -> None:
        if not self.rotated_path.exists():
            os.replace(self.journal_path, self.rotated_path)
            return
        # A compaction was interrupted (crash): keep its records, the new snapshot is not written yet.
        with self.rotated_path.open("a", encoding="utf-8") as rotated:
            rotated.write("\n" + self.journal_path.read_text(encoding="utf-8"))
        self.journal_path.unlink()

    def _write_snapshot(self, data: dict[str, Any]) -> None:
        # One small json.dumps per installation, not one for the whole state: the C encoder holds the GIL for the
        # length of a call, so this way the event loop keeps running while a large state is written.
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as out:
            out.write('{"installations":[')
            for number, installation in enumerate(data["installations"]):
                out.write(("," if number else "") + json.dumps(installation, separators=(",", ":")))
            out.write('],"scheduled":' + json.dumps(data["scheduled"], separators=(",", ":")) + "}")
        os.replace(temporary, self.path)
        self.rotated_path.unlink(missing_ok=True)
        logger.info("State compacted: %d installations", len(data["installations"]))

    def join(self) -> None:
        """Wait for a running background compaction."""
        if self._worker is not None:
            self._worker.join()
            self._worker = None
