"""The emulator's incremental persistence (journal + snapshot), its tag index and its chunked broadcast fan-out."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local.nh_emulator import dispatch, journal
from local.nh_emulator.app import create_app
from local.nh_emulator.config import EmulatorConfig
from local.nh_emulator.fanout import select_targets
from local.nh_emulator.installations import native_tags, template_tags
from local.nh_emulator.notifications import SendRequest
from local.nh_emulator.state import EmulatorState, ScheduledSend
from local.nh_emulator.tag_index import index_key, indexed_tags
from shared.notification_hubs.tag_expressions import parse_tag_expression
from tests.support.tag_expressions import expressions, leaves

pytestmark = pytest.mark.local


def device(number: int, *, tags: list[str] | None = None, user: str | None = None) -> dict[str, Any]:
    return {
        "installationId": f"dev-{number}",
        "platform": "apns",
        "pushChannel": f"channel-{number}",
        "userId": user or f"user{number}",
        "tags": tags if tags is not None else ["topic:hr", "lang:en"],
        "templates": {"alert": {"body": '{"aps":{"alert":"$(title)"}}', "tags": ["alert"]}},
    }


def clock() -> float:
    return 1_000.0


@pytest.fixture
def state_at() -> Iterator[Callable[[Path], EmulatorState]]:
    """Open states on a file; every one is closed (compacted) at the end of the test."""
    opened: list[EmulatorState] = []

    def open_state(path: Path) -> EmulatorState:
        opened.append(EmulatorState(clock, 0.0, path))
        return opened[-1]

    yield open_state
    for state in opened:
        state.close()


def crash_image(path: Path, into: Path) -> Path:
    """The state files as they are on disk now (what a process killed at this point leaves behind)."""
    into.mkdir()
    for file in path.parent.glob(path.name + "*"):
        shutil.copy(file, into / file.name)
    return into / path.name


def journal_lines(path: Path) -> list[dict[str, Any]]:
    journal_file = path.with_name(path.name + ".journal")
    return [json.loads(line) for line in journal_file.read_text().splitlines() if line.strip()]


class TestIncrementalPersistence:
    def test_a_write_appends_one_journal_line_and_leaves_the_snapshot_alone(self, tmp_path, state_at):
        path = tmp_path / "state.json"
        state = state_at(path)
        for number in range(500):
            state.put_installation(device(number))
        state.close()
        snapshot = path.read_bytes()

        reopened = state_at(path)
        reopened.put_installation(device(7, tags=["topic:finance"]))

        assert path.read_bytes() == snapshot
        assert journal_lines(path) == [{"op": "put", "installation": device(7, tags=["topic:finance"])}]

    def test_writes_survive_a_crash_without_close(self, tmp_path, state_at):
        path = tmp_path / "state.json"
        state = state_at(path)
        state.put_installation(device(1))
        state.put_installation(device(2))
        state.delete_installation("dev-1")
        state.mark_channel_expired("dev-2")
        state.add_scheduled(ScheduledSend("s-1", 2_000.0, "template", "application/json", {}, "{}", "a"))
        state.add_scheduled(ScheduledSend("s-2", 2_000.0, "template", "application/json", {}, "{}", "b"))
        state.pop_scheduled("s-1")

        reopened = state_at(crash_image(path, tmp_path / "crashed"))

        assert reopened.get("dev-1") is None
        assert reopened.get("dev-2") == {**device(2), "pushChannelExpired": True}
        assert list(reopened.scheduled) == ["s-2"]

    def test_reset_is_persisted(self, tmp_path, state_at):
        path = tmp_path / "state.json"
        state = state_at(path)
        state.put_installation(device(1))
        state.reset()
        state.put_installation(device(2))

        reopened = state_at(crash_image(path, tmp_path / "crashed"))

        assert [i["installationId"] for i in reopened.visible_installations()] == ["dev-2"]

    def test_a_torn_last_line_is_skipped_and_later_writes_still_load(self, tmp_path, state_at):
        path = tmp_path / "state.json"
        state = state_at(path)
        state.put_installation(device(1))
        with path.with_name("state.json.journal").open("a") as torn:
            torn.write('{"op":"put","installation":{"installationId":"dev-9"')
        recovered = state_at(crash_image(path, tmp_path / "crashed"))
        recovered.put_installation(device(3))

        reopened = state_at(crash_image(tmp_path / "crashed" / "state.json", tmp_path / "crashed-again"))

        assert sorted(i["installationId"] for i in reopened.visible_installations()) == ["dev-1", "dev-3"]

    def test_the_journal_is_compacted_in_the_background_once_it_outgrows_the_state(
        self, tmp_path, state_at, monkeypatch
    ):
        monkeypatch.setattr(journal, "COMPACT_AFTER", 50)
        path = tmp_path / "state.json"
        state = state_at(path)
        for round_ in range(3):
            for number in range(40):
                state.put_installation(device(number, tags=[f"round:{round_}"]))
        state._journal.join()  # type: ignore[union-attr]  # the test waits for the background thread

        assert len(journal_lines(path)) < 100  # 120 writes: at least one compaction took its lines out
        snapshot = json.loads(path.read_text())
        assert len(snapshot["installations"]) == 40
        reopened = state_at(crash_image(path, tmp_path / "crashed"))
        assert reopened.get("dev-39") == device(39, tags=["round:2"])

    def test_an_interrupted_compaction_loses_nothing(self, tmp_path, state_at):
        path = tmp_path / "state.json"
        state = state_at(path)
        state.put_installation(device(1))
        state.close()
        rotated = path.with_name("state.json.journal.old")
        rotated.write_text(json.dumps({"op": "put", "installation": device(2)}) + "\n")
        later = state_at(path)
        later.put_installation(device(3))
        later.save()  # rotates again while the interrupted compaction's journal is still there

        reopened = state_at(crash_image(path, tmp_path / "crashed"))

        assert sorted(i["installationId"] for i in reopened.visible_installations()) == ["dev-1", "dev-2", "dev-3"]
        assert not rotated.exists()


def send_for(expression_text: str | None, expression: Any) -> SendRequest:
    return SendRequest(
        format="template",
        content_type="application/json",
        body="{}",
        properties={"title": "t"},
        pns_headers={},
        tag_expression=expression_text,
        expression=expression,
    )


class TestTagIndex:
    @settings(max_examples=150, deadline=None)
    @given(expr=expressions(), data=st.data(), case_sensitive=st.booleans())
    def test_candidates_include_every_installation_a_full_scan_would_target(self, expr, data, case_sensitive):
        state = EmulatorState(clock)
        pool = [*leaves(expr), "other", "$UserId:{someone}"]
        for number in range(6):
            tags = data.draw(st.lists(st.sampled_from(pool), unique=True, max_size=4))
            spelled = [tag.swapcase() if data.draw(st.booleans()) else tag for tag in tags]
            state.put_installation(device(number, tags=spelled))
        send = send_for("x", expr)

        everything = select_targets(state.visible_installations(), send, case_sensitive=case_sensitive)
        indexed = select_targets(state.candidate_installations(expr), send, case_sensitive=case_sensitive)

        assert indexed == everything

    def test_a_send_to_one_user_looks_only_at_that_users_installations(self):
        state = EmulatorState(clock)
        for number in range(1_000):
            state.put_installation(device(number))
        candidates = state.candidate_installations(parse_tag_expression("$UserId:{user42} && alert"))

        assert [i["installationId"] for i in candidates] == ["dev-42"]

    def test_a_replaced_installation_is_found_under_its_new_tags_only(self):
        state = EmulatorState(clock)
        state.put_installation(device(1, tags=["topic:hr"]))
        assert len(state.candidate_installations(parse_tag_expression("topic:hr"))) == 1  # the index exists now
        state.put_installation(device(1, tags=["topic:finance"]))
        state.put_installation(device(1, tags=["topic:sales"]))

        assert state.candidate_installations(parse_tag_expression("topic:hr")) == []
        assert [i["tags"] for i in state.candidate_installations(parse_tag_expression("topic:sales"))] == [
            ["topic:sales"]
        ]

    @settings(max_examples=100, deadline=None)
    @given(
        tags=st.lists(st.sampled_from(["a", "B", "$userid:{X}", "topic:hr"]), max_size=4),
        templates=st.dictionaries(
            st.sampled_from(["alert", "Silent"]), st.lists(st.sampled_from(["a", "c", "$UserId:{y}"]), max_size=3)
        ),
    )
    def test_indexed_tags_are_the_keys_of_every_registrations_tags(self, tags, templates):
        bodies = {name: {"body": "{}", "tags": template_tags_} for name, template_tags_ in templates.items()}
        installation = {**device(1, tags=tags), "templates": bodies}
        expected = {index_key(tag) for tag in native_tags(installation)}
        for name in templates:
            expected |= {index_key(tag) for tag in template_tags(installation, name)}

        assert indexed_tags(installation) == expected

    def test_the_index_of_a_reloaded_state_finds_its_installations(self, tmp_path, state_at):
        path = tmp_path / "state.json"
        state = state_at(path)
        for number in range(50):
            state.put_installation(device(number))

        reopened = state_at(crash_image(path, tmp_path / "crashed"))

        found = reopened.candidate_installations(parse_tag_expression("$UserId:{user7} || $UserId:{user9}"))
        assert [i["installationId"] for i in found] == ["dev-7", "dev-9"]


class TestChunkedBroadcast:
    def test_a_large_broadcast_yields_to_the_event_loop_and_reaches_every_device_once(self):
        emulator = create_app(EmulatorConfig()).emulator  # type: ignore[attr-defined]
        audience = 3 * dispatch.CHUNK + 10
        for number in range(audience):
            emulator.state.put_installation(device(number))
        ticks = 0

        async def scenario() -> Any:
            nonlocal ticks
            task = asyncio.create_task(dispatch.run_send_async(emulator, send_for(None, None), "n-1", location=None))
            while not task.done():
                ticks += 1
                await asyncio.sleep(0)
            return task.result()

        record = asyncio.run(scenario())

        assert ticks >= 6  # the loop ran other work between chunks of selection and of delivery
        assert record.state == "Completed"
        reached = [d.installation_id for d in emulator.state.deliveries]
        assert sorted(reached) == sorted(f"dev-{n}" for n in range(audience))
        assert emulator.state.notifications["n-1"] is record

    def test_the_first_tag_send_builds_the_index_in_chunks_and_keeps_writes_made_meanwhile(self):
        emulator = create_app(EmulatorConfig()).emulator  # type: ignore[attr-defined]
        for number in range(5_000):
            emulator.state.put_installation(device(number, tags=["topic:hr"]))
        send = send_for("topic:finance", parse_tag_expression("topic:finance"))
        ticks = 0

        async def scenario() -> None:
            nonlocal ticks
            task = asyncio.create_task(dispatch.run_send_async(emulator, send, "n-1", location=None))
            await asyncio.sleep(0)  # the send has started building the index
            emulator.state.put_installation(device(9_999, tags=["topic:finance"]))
            while not task.done():
                ticks += 1
                await asyncio.sleep(0)
            await dispatch.run_send_async(emulator, send, "n-2", location=None)

        asyncio.run(scenario())

        assert ticks >= 2  # the build yielded between chunks
        reached = [(d.notification_id, d.installation_id) for d in emulator.state.deliveries]
        assert ("n-2", "dev-9999") in reached
        assert {installation for _, installation in reached} == {"dev-9999"}
