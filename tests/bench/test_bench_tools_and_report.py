"""make bench finds or installs its tools, or says what is missing and skips what needs it; the page it writes
takes every figure from the run's results."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path

from bench import report
from bench.tools import ensure_wrk

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "benchmarks.json"


class FakeSystem:
    """which/is_root/run for ensure_wrk: ``installs`` decides whether apt-get puts wrk on the PATH."""

    def __init__(self, *, has_wrk: bool = False, root: bool = True, apt: bool = True, installs: bool = True) -> None:
        self.has_wrk, self.root, self.apt, self.installs = has_wrk, root, apt, installs
        self.commands: list[list[str]] = []
        self.said: list[str] = []

    def which(self, name: str) -> str | None:
        present = {"wrk": self.has_wrk, "apt-get": self.apt}[name]
        return f"/usr/bin/{name}" if present else None

    def run(self, command: Sequence[str]) -> int:
        self.commands.append(list(command))
        if command[:2] == ["apt-get", "install"] and self.installs:
            self.has_wrk = True
            return 0
        return 0 if command[:2] == ["apt-get", "update"] else 100

    def ensure(self) -> str | None:
        return ensure_wrk(which=self.which, is_root=lambda: self.root, run=self.run, say=self.said.append)


class TestEnsureWrk:
    def test_an_installed_wrk_is_used_as_it_is(self):
        system = FakeSystem(has_wrk=True)
        assert system.ensure() == "/usr/bin/wrk"
        assert system.commands == []

    def test_a_missing_wrk_is_installed_from_debian_when_running_as_root(self):
        system = FakeSystem()
        assert system.ensure() == "/usr/bin/wrk"
        assert system.commands == [["apt-get", "install", "-y", "--no-install-recommends", "wrk"]]

    def test_without_root_nothing_is_installed_and_the_skip_is_said(self):
        system = FakeSystem(root=False)
        assert system.ensure() is None
        assert system.commands == []
        assert any("skips its wrk (ceiling) rows" in line for line in system.said)

    def test_when_apt_get_cannot_install_it_the_skip_is_said(self):
        system = FakeSystem(installs=False)
        assert system.ensure() is None
        assert ["apt-get", "update"] in system.commands
        assert any("could not be installed" in line for line in system.said)


class TestReport:
    def results(self) -> dict:
        return json.loads(RESULTS.read_text(encoding="utf-8"))

    def test_a_run_without_wrk_says_the_ceiling_was_not_measured(self):
        results = self.results()
        results["sends"]["rows"] = [row for row in results["sends"]["rows"] if not row["client"].startswith("wrk")]
        results["sends"]["skipped"] = {"wrk (ceiling)": "wrk is not installed"}
        page = report.render(results, RESULTS)
        assert "Skipped in this run: wrk (ceiling): wrk is not installed." in page
        assert "not measured (no wrk in this run)" in page

    def test_the_core_count_comes_from_the_machine_the_run_recorded(self):
        results = self.results()
        eight = copy.deepcopy(results)
        eight["machine"]["nproc"] = 8
        assert "shares its 8 cores" in report.render(eight, RESULTS)
        assert f"shares its {results['machine']['nproc']} cores" in report.render(results, RESULTS)

    def test_the_end_to_end_approvals_row_is_shown_before_the_debits_when_the_run_has_one(self):
        results = self.results()
        debits = results["latency"]["end_to_end"]
        results["latency"]["end_to_end_approvals"] = debits | {"per_second": 123.4, "events": 2000}
        page = report.render(results, RESULTS)
        approvals_at = page.index("End to end, one-user budget approvals")
        assert "**123.4 events/s end to end**" in page[approvals_at:]
        debits_at = page.index("End to end, the debits above, POSTed the same way after the approvals")
        assert approvals_at < debits_at
        assert f"**{debits['per_second']} events/s end to end**" in page[debits_at:]

    def test_the_end_to_end_row_with_signalr_follows_the_debits_when_the_run_has_one(self):
        results = self.results()
        debits = results["latency"]["end_to_end"]
        results["latency"]["end_to_end_approvals"] = debits | {"per_second": 123.4, "events": 2000}
        results["latency"]["end_to_end_approvals_signalr"] = debits | {"per_second": 98.7, "events": 2000}
        page = report.render(results, RESULTS)
        debits_at = page.index("End to end, the debits above, POSTed the same way after the approvals")
        signalr_at = page.index("End to end, approvals again through a second dev host process configured with SignalR")
        assert debits_at < signalr_at
        assert "**98.7 events/s end to end**" in page[signalr_at:]
        del results["latency"]["end_to_end_approvals_signalr"]
        assert "configured with SignalR" not in report.render(results, RESULTS)

    def test_the_history_table_comes_from_the_history_file(self):
        history = {
            "runs": [{"commit": "abc1234", "date": "d", "change": "x", "sends_per_second": {"1": {"ours": 5.0}}}]
        }
        page = report.render(self.results(), RESULTS, history)
        assert "| abc1234 | d | x | 5.0 |" in page
