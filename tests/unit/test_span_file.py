"""SpanFileExporter: spans as JSON lines, the file rotated at its bound with no span lost, and a failing disk
reported as a failed export without stopping anything."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

from shared.composition.span_file import SpanFileExporter


def tracer_writing_to(exporter: SpanFileExporter):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, provider.get_tracer("test")


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_each_span_is_one_json_line_with_its_name_and_trace(tmp_path):
    path = tmp_path / "spans.jsonl"
    provider, tracer = tracer_writing_to(SpanFileExporter(path))
    with tracer.start_as_current_span("deliver hr/push") as parent, tracer.start_as_current_span("NH send"):
        trace_id = f"0x{parent.get_span_context().trace_id:032x}"
    provider.shutdown()
    written = lines(path)
    assert [span["name"] for span in written] == ["NH send", "deliver hr/push"]
    assert {span["context"]["trace_id"] for span in written} == {trace_id}


def test_the_file_moves_to_dot_1_past_its_bound_and_no_span_is_lost(tmp_path):
    path = tmp_path / "spans.jsonl"
    provider, tracer = tracer_writing_to(SpanFileExporter(path, max_bytes=4_000))
    for number in range(40):
        with tracer.start_as_current_span(f"span {number}"):
            pass
    provider.shutdown()
    older, current = lines(path.with_name("spans.jsonl.1")), lines(path)
    assert older
    assert path.stat().st_size < 4_000
    assert path.with_name("spans.jsonl.1").stat().st_size >= 4_000
    # Only the last rotation's file and the current one are kept: the names that remain run on without a gap.
    names = [span["name"] for span in older + current]
    first = int(names[0].split()[1])
    assert names == [f"span {number}" for number in range(first, 40)]
    assert not path.with_name("spans.jsonl.2").exists()


def test_a_failing_disk_is_a_failed_export_logged_once(tmp_path, monkeypatch, caplog):
    path = tmp_path / "spans.jsonl"
    exporter = SpanFileExporter(path)
    provider, tracer = tracer_writing_to(exporter)

    def full(_text: str) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(exporter._file, "write", full)
    with caplog.at_level(logging.WARNING, logger="shared.composition.span_file"):
        for _ in range(3):
            with tracer.start_as_current_span("lost"):
                pass
    assert [record.getMessage() for record in caplog.records] == [
        f"spans are not written to {path}: [Errno 28] No space left on device"
    ]
    assert exporter.export([]) is SpanExportResult.FAILURE
    provider.shutdown()
    assert exporter.export([]) is SpanExportResult.FAILURE  # after shutdown


def test_a_path_that_cannot_be_opened_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        SpanFileExporter(tmp_path / "missing-directory" / "spans.jsonl")
