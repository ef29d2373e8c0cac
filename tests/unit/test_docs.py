"""The docs that users follow stay in step with the code."""

from __future__ import annotations

import json
import re
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


def test_every_path_in_the_architecture_tables_exists():
    """The "where to find things" tables of docs/architecture.md stay true when modules move."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    section = page.split("## Where to find things", 1)[1].split("\n## ", 1)[0]
    paths: list[str] = []
    for line in section.splitlines():
        for column in line.split("|") if line.startswith("|") else []:
            previous = ""
            for name in re.findall(r"`([^`]+)`", column):
                if "/" not in name and previous:
                    name = str(Path(previous).parent / name)  # a bare file name beside the previous path
                if name.endswith((".py", "/")) and not name.startswith("tests/<"):
                    paths.append(name)
                previous = name
    assert len(paths) > 20
    missing = [path for path in paths if not (ROOT / path).exists()]
    assert missing == []


def test_the_reliability_page_is_its_results_json_rendered():
    """Every figure on docs/reliability.md comes from docs/reliability.json (written by the same full run)."""
    from tests.reliability.document import render

    results = json.loads((ROOT / "docs" / "reliability.json").read_text(encoding="utf-8"))
    assert (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8") == render(results)


def test_the_benchmarks_page_is_the_results_json_it_names_rendered():
    """docs/benchmarks.md names the results file it was made from; rendering that file again (with the saved
    real-time section, as the bench does) gives the page."""
    from bench import report

    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    named = re.search(r"Tables come from `(bench/results/[\w-]+\.json)`", page)
    assert named is not None
    source = ROOT / named.group(1)
    assert page == report.render(report.page_results(json.loads(source.read_text(encoding="utf-8"))), source)
