"""The dev host as a process: HTTP routes, admin timer runs, Service Bus triggers, dead-lettering, crash recovery."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.local

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "devhost_fixtures"
DEADLINE = 15.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class DevHost:
    port: int
    state_dir: Path
    records: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "SAMPLE_RECORDS": str(self.records), "PYTHONUNBUFFERED": "1"}
        command = [
            sys.executable, "-m", "local.devhost",
            "--app", "tests.local.devhost_fixtures.sample_app",
            "--port", str(self.port),
            "--settings", str(FIXTURES / "sample.settings.json"),
            "--host-json", str(FIXTURES / "host.json"),
            "--topology", str(FIXTURES / "servicebus-topology.json"),
            "--state-dir", str(self.state_dir),
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: self._answers(), f"dev host on {self.url} (log: {self.log})")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"dev host exited with {self.process.returncode}:\n{self.log.read_text()}")
        try:
            return httpx.get(f"{self.url}/admin/host/status", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def read_records(self) -> list[dict[str, Any]]:
        if not self.records.exists():
            return []
        return [json.loads(line) for line in self.records.read_text().splitlines() if line.strip()]


def wait_for(condition: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHost]:
    base = tmp_path_factory.mktemp("devhost")
    dev_host = DevHost(free_port(), base / "state", base / "records.jsonl", base / "devhost.log")
    try:
        dev_host.start()
        yield dev_host
    finally:
        dev_host.stop()


def publish(host: DevHost, topic: str, **payload: Any) -> str:
    message_id = payload.setdefault("id", str(uuid.uuid4()))
    response = httpx.post(f"{host.url}/api/publish/{topic}", json=payload, timeout=5)
    assert response.status_code == 202
    return str(message_id)


class TestHttp:
    def test_routes_with_constraints_pick_the_right_function(self, host: DevHost) -> None:
        by_int = httpx.get(f"{host.url}/api/items/42")
        by_guid = httpx.get(f"{host.url}/api/items/0b9f5c2e-1d3a-4c7e-9a55-2f1a0e6c8d11")
        assert by_int.json() == {"id": "42", "kind": "int"}
        assert by_guid.json()["kind"] == "guid"
        assert by_int.headers["content-type"] == "application/json"

    def test_request_carries_route_query_headers_and_body(self, host: DevHost) -> None:
        response = httpx.post(
            f"{host.url}/api/echo/bob?a=1&b=2", content=b"hello", headers={"X-Sample": "yes"}, timeout=5
        )
        assert response.status_code == 200
        echoed = response.json()
        assert echoed["route"] == {"name": "bob"}
        assert echoed["query"] == {"a": "1", "b": "2"}
        assert (echoed["header"], echoed["body"], echoed["method"]) == ("yes", "hello", "POST")
        assert echoed["function"] == "echo"

    def test_sync_functions_run_in_a_worker_thread_and_catch_all_takes_the_rest(self, host: DevHost) -> None:
        response = httpx.get(f"{host.url}/api/files/a/b/c.txt")
        assert response.json()["path"] == "a/b/c.txt"
        assert response.json()["thread"] != "MainThread"

    def test_unknown_routes_are_404_wrong_methods_405_and_exceptions_500(self, host: DevHost) -> None:
        assert httpx.get(f"{host.url}/api/nothing/here").status_code == 404
        assert httpx.get(f"{host.url}/items/42").status_code == 404
        wrong = httpx.patch(f"{host.url}/api/items/42")
        assert wrong.status_code == 405
        assert "GET" in wrong.headers["allow"]
        assert httpx.get(f"{host.url}/api/boom").status_code == 500


class TestTimerAndAdmin:
    def test_admin_endpoint_runs_a_timer_now(self, host: DevHost) -> None:
        response = httpx.post(f"{host.url}/admin/functions/tick", json={"input": ""})
        assert response.status_code == 202
        runs = wait_for(lambda: [r for r in host.read_records() if r["function"] == "tick"], "the timer run")
        assert runs[0]["past_due"] is False

    def test_admin_endpoint_refuses_unknown_functions(self, host: DevHost) -> None:
        assert httpx.post(f"{host.url}/admin/functions/nope", json={"input": ""}).status_code == 404


class TestServiceBusTriggers:
    def test_published_message_reaches_its_trigger(self, host: DevHost) -> None:
        message_id = publish(host, "hr")
        runs = wait_for(lambda: [r for r in host.read_records() if r.get("message_id") == message_id], "hr_sync")
        assert runs == [{"function": "hr_sync", "message_id": message_id, "delivery_count": 1}]

    def test_failed_invocation_is_redelivered_with_a_higher_delivery_count(self, host: DevHost) -> None:
        message_id = publish(host, "orders", fail=1, properties={"source": "/lob/orders"})
        runs = wait_for(
            lambda: [r for r in host.read_records() if r.get("message_id") == message_id][1:], "the redelivery"
        )
        assert runs[0]["delivery_count"] == 2
        assert runs[0]["properties"] == {"source": "/lob/orders"}

    def test_trigger_that_keeps_failing_dead_letters_after_max_delivery_count(self, host: DevHost) -> None:
        message_id = publish(host, "orders", fail=99, properties={"source": "/lob/orders"})

        def dead_lettered() -> list[dict[str, Any]]:
            listed = httpx.get(f"{host.url}/api/deadletters").json()
            return [d for d in listed if d["message_id"] == message_id]

        [dead] = wait_for(dead_lettered, "the dead letter")
        assert dead["reason"] == "MaxDeliveryCountExceeded"
        counts = [r["delivery_count"] for r in host.read_records() if r.get("message_id") == message_id]
        assert counts == [1, 2, 3]


class TestBatchTriggers:
    def publish_batch(self, host: DevHost, count: int, **payload: Any) -> list[str]:
        ids = [str(uuid.uuid4()) for _ in range(count)]
        batch = [{**payload, "id": message_id, "properties": {"source": "/lob/accounts"}} for message_id in ids]
        response = httpx.post(f"{host.url}/api/publish-batch/accounts", json=batch, timeout=5)
        assert response.status_code == 202
        return ids

    def runs_with(self, host: DevHost, ids: list[str]) -> list[dict[str, Any]]:
        return [
            r for r in host.read_records() if r["function"] == "accounts_batch" and set(r["message_ids"]) & set(ids)
        ]

    def test_a_batch_function_gets_up_to_max_message_batch_size_messages_per_invocation(self, host: DevHost) -> None:
        ids = self.publish_batch(host, 5)
        runs = wait_for(
            lambda: (r := self.runs_with(host, ids)) and sum(len(x["message_ids"]) for x in r) >= 5 and r, "batches"
        )
        assert [len(run["message_ids"]) for run in runs] == [3, 2]  # host.json maxMessageBatchSize is 3
        assert [m for run in runs for m in run["message_ids"]] == ids  # in sequence order
        assert all(count == 1 for run in runs for count in run["delivery_counts"])

    def test_a_failed_batch_is_abandoned_whole_and_redelivered_together(self, host: DevHost) -> None:
        ids = self.publish_batch(host, 2, fail=1)
        runs = wait_for(lambda: self.runs_with(host, ids)[1:] and self.runs_with(host, ids), "the redelivery")
        assert runs[0]["message_ids"] == ids
        assert runs[1]["message_ids"] == ids
        assert runs[1]["delivery_counts"] == [2, 2]


def test_in_flight_message_is_redelivered_after_the_host_is_killed_and_restarted(tmp_path: Path) -> None:
    dev_host = DevHost(free_port(), tmp_path / "state", tmp_path / "records.jsonl", tmp_path / "devhost.log")
    try:
        dev_host.start()
        message_id = publish(dev_host, "orders", sleep=60, properties={"source": "/lob/orders"})
        wait_for(lambda: any(r.get("message_id") == message_id for r in dev_host.read_records()), "first delivery")
        dev_host.stop(signal.SIGKILL)

        dev_host.start()
        runs = wait_for(
            lambda: [r for r in dev_host.read_records() if r.get("message_id") == message_id][1:], "the redelivery"
        )
        assert runs[0]["delivery_count"] == 2
    finally:
        dev_host.stop()


def test_host_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    dev_host = DevHost(free_port(), tmp_path / "state", tmp_path / "records.jsonl", tmp_path / "devhost.log")
    try:
        dev_host.start()
    finally:
        code = dev_host.stop(signal.SIGTERM)
    assert code == 0
    assert "host stopped" in dev_host.log.read_text()
