"""Crash: the dev host is killed (SIGKILL) mid-run and started again; every event still reaches its device, nothing
is dead-lettered, and nobody sees a notification twice. The topology is a copy with a 5 s LockDuration (PT1M in
infra/), so the messages the killed process held come back within seconds instead of a minute."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.reliability.ledger import Tally
from tests.reliability.report import BOOK
from tests.reliability.sizes import Sizes
from tests.reliability.traffic import (
    TOPOLOGY,
    Observer,
    expected_installations,
    make_events,
    publish,
    register_fleet,
    wait_for_share,
)
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.reliability

LOCK_DURATION = "PT5S"
# shared.usecases.delivery waits this long before it takes over a claim left by a process that died mid-delivery.
STALE_CLAIM_SECONDS = 90


def short_lock_topology(target: Path) -> Path:
    """infra/servicebus-topology.json with every subscription's LockDuration set to LOCK_DURATION."""
    config = json.loads(TOPOLOGY.read_text(encoding="utf-8"))
    for namespace in config["UserConfig"]["Namespaces"]:
        for topic in namespace["Topics"]:
            for subscription in topic["Subscriptions"]:
                subscription["Properties"]["LockDuration"] = LOCK_DURATION
    target.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def crash_stack(azurite_tables: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Path]]:
    workdir = tmp_path_factory.mktemp("crash")
    topology = short_lock_topology(workdir / "servicebus-topology.json")
    with running_stack(azurite_tables, workdir, topology=topology) as running:
        yield running, topology


@dataclass(frozen=True)
class CrashRun:
    tally: Tally
    taken_over: set[str]
    """Event ids whose claim the restarted host took over from the killed one (the log says which)."""


@pytest.fixture(scope="module")
def crash_run(crash_stack: tuple[Stack, Path], sizes: Sizes) -> CrashRun:
    """Publish a third and let it be pushed, publish the rest and SIGKILL the dev host as soon as that second wave
    is being pushed, start it again, wait for the rest. (The dev host pushes a few hundred events in a second or two, so
    the kill has to follow the second wave closely rather than wait for a share of the whole run.)"""
    stack, topology = crash_stack
    with httpx.Client(timeout=60) as http:
        observer = Observer(stack, http, topology)
        fleet = register_fleet(http, stack.api)
        events = make_events(fleet, sizes.events, seed=11)
        expected = expected_installations(events, fleet)
        first = len(events) // 3
        asyncio.run(publish(stack.state_dir / "bus.sqlite3", events[:first], topology))
        settled = wait_for_share(observer, expected, 0.8 * first / len(events))
        asyncio.run(publish(stack.state_dir / "bus.sqlite3", events[first:], topology))
        share_at_kill = wait_for_share(observer, expected, settled + 0.02)
        stack.restart_devhost(signal.SIGKILL)
        tally = observer.wait_until_accounted(
            "dev host SIGKILL mid-run, restarted", expected, STALE_CLAIM_SECONDS + 60 + 0.05 * len(events)
        )
    log = stack.devhost.log.read_text(encoding="utf-8", errors="replace")
    taken_over = {key.partition("#")[2] for key in _TAKEN_OVER.findall(log)}  # the log names source#id
    tally.notes["delivered when killed"] = f"{share_at_kill:.0%}"
    tally.notes["stale claims taken over"] = len(taken_over)
    tally.notes["lock duration"] = LOCK_DURATION
    BOOK.add_tally(tally)
    assert 0 < share_at_kill < 1, "the kill did not land mid-run"
    return CrashRun(tally, taken_over)


_TAKEN_OVER = re.compile(r"took over stale delivery claim event_id=(\S+) ")


class TestDevHostCrash:
    def test_every_event_reaches_its_device_when_the_dev_host_is_killed_mid_run(self, crash_run: CrashRun):
        tally = crash_run.tally
        assert (tally.lost, tally.misrouted) == (0, 0), tally.lost_ids[:5]
        assert tally.delivered == tally.expected_delivered == tally.sent
        assert (sum(tally.dead_lettered.values()), sum(tally.quarantined.values())) == (0, 0)
        assert tally.not_shown == 0

    def test_nobody_sees_a_notification_twice_after_the_crash(self, crash_run: CrashRun):
        """Sends NH accepted just before the kill, whose outcome the delivery log had not recorded, are sent again
        when their claims are taken over; the alert's collapse id makes the copy replace the first on the screen."""
        assert crash_run.tally.visible_duplicates == 0, crash_run.tally.visible_duplicate_ids[:5]

    def test_only_deliveries_the_killed_host_left_unfinished_are_sent_to_nh_again(self, crash_run: CrashRun):
        """The one window left open: NH accepted the send, then the process died before the delivery log said so.
        How many that were is measured (the reliability report), not bounded here beyond this."""
        tally = crash_run.tally
        assert set(tally.nh_duplicate_ids) <= crash_run.taken_over
        assert tally.nh_duplicate_sends == len(tally.nh_duplicate_ids)  # none sent more than twice
        assert tally.received_duplicates == tally.nh_duplicate_sends
