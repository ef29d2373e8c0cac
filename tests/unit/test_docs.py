"""The docs that users follow stay in step with the code."""

from __future__ import annotations

from pathlib import Path

from shared.domain.catalog import CATALOG

ROOT = Path(__file__).resolve().parents[2]


def test_the_catalog_page_lists_every_event_type():
    page = (ROOT / "docs" / "catalog.md").read_text()
    missing = [event_type for event_type in CATALOG if f"`{event_type}`" not in page]
    assert missing == []


def test_the_readme_opens_with_make_run_and_make_test():
    lines = [line for line in (ROOT / "README.md").read_text().splitlines() if line.strip()]
    assert lines[2].startswith("make run")
    assert lines[3].startswith("make test")
