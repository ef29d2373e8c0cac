"""SpanFileExporter: the local stand-in for Application Insights' traces, spans as JSON lines in one file.

The file is bounded: once it has grown past ``max_bytes`` it becomes ``<name>.1`` (replacing the one before) and a
new file starts, so ``make run`` under load (tens of megabytes an hour) never fills the disk. Telemetry never stops
the app: a write that fails is a failed export, logged once, and the spans are dropped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = ["DEFAULT_MAX_BYTES", "SpanFileExporter"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024


class SpanFileExporter(SpanExporter):
    """Appends each span as one JSON line (the SDK's own JSON of a span) to ``path``, rotating it at ``max_bytes``.

    Raises OSError when the file cannot be opened.
    """

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._path = path
        self._max_bytes = max_bytes
        self._file: TextIO | None = path.open("a", encoding="utf-8")
        self._failing = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._file is None:
            return SpanExportResult.FAILURE
        try:
            self._file.write("".join(str(span.to_json(indent=None)) + "\n" for span in spans))
            self._file.flush()
            if self._file.tell() >= self._max_bytes:
                self._rotate()
        except OSError as exc:
            if not self._failing:
                logger.warning("spans are not written to %s: %s", self._path, exc)
            self._failing = True
            return SpanExportResult.FAILURE
        self._failing = False
        return SpanExportResult.SUCCESS

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        self._file = None
        os.replace(self._path, self._path.with_name(self._path.name + ".1"))
        self._file = self._path.open("a", encoding="utf-8")

    def shutdown(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
