"""Scale-out: two and four dev host processes consume the same local bus and share the storage, as several Function
App instances do. The bus's locks (SQLite, across processes) hand each message to one instance at a time, and the
delivery log (Tables) stops a second instance from pushing an event another one has: a third of the events is
published twice under different message ids, so both copies can be taken by different processes at once. Judged
from the devices: every event arrives once, nobody sees anything twice."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.reliability.ledger import Tally
from tests.reliability.report import BOOK
from tests.reliability.sizes import Sizes
from tests.reliability.traffic import Observer, expected_installations, make_events, publish, register_fleet
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.reliability

_INVOCATION = re.compile(r"Executed Functions\.dispatch_\w+_event \(serviceBusTrigger")
# An invocation that failed (e.g. a Tables read timed out under load) abandons its message, which comes back.
_ABANDONED = re.compile(r"function dispatch_\w+_event failed; abandoning message")


@dataclass(frozen=True)
class ScaleOutRun:
    tally: Tally
    resent: int
    invocations_per_host: list[int]
    abandoned: int


@pytest.fixture(scope="module", params=[2, 4], ids=lambda n: f"{n}-hosts")
def scale_out_run(
    request: pytest.FixtureRequest, azurite_tables: str, tmp_path_factory: pytest.TempPathFactory, sizes: Sizes
) -> Iterator[ScaleOutRun]:
    hosts: int = request.param
    with running_stack(azurite_tables, tmp_path_factory.mktemp(f"scale-{hosts}"), devhosts=hosts) as stack:
        yield run(stack, sizes, hosts)


def run(stack: Stack, sizes: Sizes, hosts: int) -> ScaleOutRun:
    with httpx.Client(timeout=60) as http:
        fleet = register_fleet(http, stack.api)
        events = make_events(fleet, sizes.events, seed=30 + hosts)
        expected = expected_installations(events, fleet)
        resend = {event["id"] for event in events[::3]}
        asyncio.run(publish(stack.state_dir / "bus.sqlite3", events, resend=resend))
        tally = Observer(stack, http).wait_until_accounted(
            f"{hosts} dev host processes on one bus and one storage", expected, 60 + 0.05 * len(events)
        )
    logs = [host.log.read_text(encoding="utf-8", errors="replace") for host in stack.devhosts]
    invocations = [len(_INVOCATION.findall(log)) for log in logs]
    abandoned = sum(len(_ABANDONED.findall(log)) for log in logs)
    tally.notes["events published twice (fresh message id)"] = len(resend)
    tally.notes["messages handled per process"] = invocations
    tally.notes["invocations failed and abandoned (redelivered)"] = abandoned
    BOOK.add_tally(tally)
    return ScaleOutRun(tally, len(resend), invocations, abandoned)


class TestScaleOut:
    def test_every_event_reaches_its_device_exactly_once_across_processes(self, scale_out_run: ScaleOutRun):
        tally = scale_out_run.tally
        assert (tally.lost, tally.misrouted) == (0, 0), tally.lost_ids[:5]
        assert tally.delivered == tally.expected_delivered == tally.sent
        assert (tally.nh_duplicate_sends, tally.received_duplicates, tally.visible_duplicates) == (0, 0, 0)
        assert (sum(tally.dead_lettered.values()), sum(tally.quarantined.values())) == (0, 0)

    def test_every_message_was_handled_once_and_the_processes_shared_the_work(self, scale_out_run: ScaleOutRun):
        """Each message (the resent copies included) is invoked once per delivery: once, plus once more for each
        failed invocation that abandoned it. So the bus never handed one message to two processes. And every process
        took part, or the run proved nothing about sharing."""
        invocations = scale_out_run.invocations_per_host
        assert sum(invocations) == scale_out_run.tally.sent + scale_out_run.resent + scale_out_run.abandoned
        assert all(count > 0 for count in invocations), invocations
