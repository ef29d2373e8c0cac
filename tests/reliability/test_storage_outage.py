"""Storage outage: Azurite is stopped for some seconds mid-run and started again on the same port with its data;
every event still reaches its device once, nothing is dead-lettered, and the outage shows in
/api/health/dependencies and the host log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.reliability.ledger import Tally
from tests.reliability.report import BOOK
from tests.reliability.sizes import Sizes
from tests.reliability.storage import RestartableAzurite, restartable_azurite
from tests.reliability.traffic import (
    ADMIN,
    Observer,
    count_log,
    expected_installations,
    make_events,
    publish,
    register_fleet,
    wait_for_share,
)
from tests.support.stack import Stack, poll_until, running_stack

pytestmark = pytest.mark.reliability

OUTAGE_LOG_LINE = "Tables unreachable"


@dataclass(frozen=True)
class OutageRun:
    tally: Tally
    health_during: tuple[int, dict[str, Any]]
    health_after: tuple[int, dict[str, Any]]
    log_lines_before: int
    log_lines_after: int


@pytest.fixture(scope="module")
def outage_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, RestartableAzurite]]:
    workdir = tmp_path_factory.mktemp("outage")
    with (
        restartable_azurite(workdir / "azurite") as azurite,
        running_stack(azurite.connection_string, workdir) as stack,
    ):
        yield stack, azurite


def health(http: httpx.Client, api: str) -> tuple[int, dict[str, Any]]:
    """The admin's dependency check (anonymous /api/health is liveness only and does not look at Tables)."""
    response = http.get(f"{api}/health/dependencies", headers=ADMIN)
    return response.status_code, response.json()


def poll_health(http: httpx.Client, api: str, tables_status: str, timeout: float) -> tuple[int, dict[str, Any]]:
    """Poll /api/health until its tables check reports ``tables_status`` (or the timeout); the last answer."""
    answer = health(http, api)

    def reports() -> bool:
        nonlocal answer
        answer = health(http, api)
        return bool(answer[1]["checks"]["tables"]["status"] == tables_status)

    poll_until(reports, timeout=timeout, interval=0.5)
    return answer


@pytest.fixture(scope="module")
def outage_run(outage_stack: tuple[Stack, RestartableAzurite], sizes: Sizes) -> OutageRun:
    """Publish the first third and let it be pushed, stop Azurite, publish the rest into the outage, start Azurite
    again after the outage, drain. (The dev host pushes a few hundred events in a second or two, so the outage has
    to meet events published into it rather than catch the run at a share of its progress.)"""
    stack, azurite = outage_stack
    with httpx.Client(timeout=60) as http:
        observer = Observer(stack, http)
        fleet = register_fleet(http, stack.api)
        events = make_events(fleet, sizes.events, seed=13)
        expected = expected_installations(events, fleet)
        first = len(events) // 3
        asyncio.run(publish(stack.state_dir / "bus.sqlite3", events[:first]))
        # "Let it be pushed": every one of the first third on its device and its message completed (a delivery
        # caught by the outage between its send and its record would wait out the 90 s stale claim).
        wait_for_share(observer, expected, first / len(events))
        assert poll_until(lambda: observer.active_messages() == 0, timeout=60), "the first third never finished"
        before = count_log(stack.devhost.log, OUTAGE_LOG_LINE)
        azurite.stop()
        stopped = time.monotonic()
        try:
            asyncio.run(publish(stack.state_dir / "bus.sqlite3", events[first:]))
            during = poll_health(http, stack.api, "error", timeout=30)
            # Not a wait for anything: the outage lasts this long by design.
            time.sleep(max(0.0, sizes.outage_seconds - (time.monotonic() - stopped)))
        finally:
            azurite.start()
        outage = time.monotonic() - stopped
        after = poll_health(http, stack.api, "ok", timeout=60)
        tally = observer.wait_until_accounted(
            f"Azurite stopped {outage:.0f} s mid-run, restarted", expected, 120 + 0.05 * len(events)
        )
    lines = count_log(stack.devhost.log, OUTAGE_LOG_LINE)
    tally.notes["health during outage"] = f"{during[0]} tables={during[1]['checks']['tables']}"
    tally.notes["health after"] = f"{after[0]} tables={after[1]['checks']['tables']['status']}"
    tally.notes[f"host log lines '{OUTAGE_LOG_LINE}'"] = lines - before
    BOOK.add_tally(tally)
    return OutageRun(tally, during, after, before, lines)


class TestStorageOutage:
    def test_every_event_reaches_its_device_once_when_storage_goes_away_mid_run(self, outage_run: OutageRun):
        tally = outage_run.tally
        assert (tally.lost, tally.misrouted) == (0, 0), tally.lost_ids[:5]
        assert tally.delivered == tally.expected_delivered == tally.sent
        assert (tally.nh_duplicate_sends, tally.received_duplicates, tally.visible_duplicates) == (0, 0, 0)
        assert tally.not_shown == 0

    def test_a_storage_outage_of_a_few_seconds_dead_letters_and_quarantines_nothing(self, outage_run: OutageRun):
        tally = outage_run.tally
        assert (sum(tally.dead_lettered.values()), sum(tally.quarantined.values())) == (0, 0)

    def test_health_reports_the_tables_outage_and_the_recovery(self, outage_run: OutageRun):
        status, body = outage_run.health_during
        assert (status, body["status"], body["checks"]["tables"]["status"]) == (503, "degraded", "error")
        status, body = outage_run.health_after
        assert (status, body["status"]) == (200, "ok")

    def test_the_host_log_shows_the_outage(self, outage_run: OutageRun):
        assert outage_run.log_lines_before == 0
        assert outage_run.log_lines_after > 0
