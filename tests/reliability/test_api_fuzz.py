"""Generated requests over /api/openapi.json against the running dev host, with every schemathesis check except
ignored_auth (dev mode trusts X-Dev-User by design): no server error; every answer documented (status, content
type, headers, schema); every schema-valid request accepted and every schema-invalid one refused.

Two runs. The fuzzing phase is driven with Hypothesis directly, operation by operation and mode by mode
(schemathesis' pytest plugin does not run under this pytest), so every failing operation is reported with its
shrunk request. The schemathesis CLI then runs its examples, coverage (the boundary values of every constraint)
and stateful (links between operations) phases; its JSON report gives the figures."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.generation.modes import GenerationMode

from local.bus import LocalBus, load_topology
from shared.domain.records import OutgoingMessage
from tests.reliability.report import BOOK
from tests.reliability.sizes import Sizes
from tests.support.stack import ROOT, Stack, poll

pytestmark = pytest.mark.reliability

load_all_checks()
EXCLUDED_CHECKS = ("ignored_auth",)
ALL_CHECKS = [check for check in CHECKS.get_all() if check.__name__ not in EXCLUDED_CHECKS]
# Every role, so the operator and publisher routes are exercised past their authorization checks too.
DEV_IDENTITY = {"X-Dev-User": "fuzzer", "X-Dev-Roles": "push.admin,lob.publisher"}
EVENT_HEADERS = {**DEV_IDENTITY, "Content-Type": "application/cloudevents+json"}
CLI_TIMEOUT = 900


@pytest.fixture(scope="module")
def quarantined(stack: Stack) -> str:
    """A quarantined event, so the replay route has something to replay: a LoB system on AMQP published a body
    nested 100,000 levels deep (hostile JSON reaches the replay route from the bus, not from the request)."""
    message_id = f"hostile-{uuid.uuid4().hex}"

    async def publish() -> None:
        bus = LocalBus(stack.state_dir / "bus.sqlite3", load_topology(ROOT / "infra" / "servicebus-topology.json"))
        try:
            body = b"[" * 100_000
            await bus.publish("hr", [OutgoingMessage(message_id, "hr.employee.joined", "application/json", body)])
        finally:
            bus.close()

    asyncio.run(publish())

    def listed() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = httpx.get(f"{stack.api}/deadletters", headers=DEV_IDENTITY).json()["items"]
        return [item for item in items if item["messageId"] == message_id]

    [item] = poll(listed, until=bool)
    assert (item["kind"], item["reason"]) == ("quarantine", "invalid_json")
    return str(item["id"])


def assert_no_traceback_logged(stack: Stack) -> None:
    """The dev host's own log (the app, the host, uvicorn): no request made anything raise unhandled."""
    log = stack.devhost.log.read_text(errors="replace")
    assert "Traceback" not in log, log[log.index("Traceback") - 2000 : log.index("Traceback") + 4000]


def fuzz(operation: Any, mode: GenerationMode, examples: int, statuses: Counter[str], **fixed: Any) -> str | None:
    """Run ``examples`` generated requests; the shrunk failure as text, or None when every response passed."""

    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        response = case.call(headers=DEV_IDENTITY, timeout=30)
        statuses[str(response.status_code)] += 1
        if mode is GenerationMode.NEGATIVE and response.status_code == 413:
            return  # refused for its size before anything else was read: a rejection the check does not count
        case.validate_response(response, checks=ALL_CHECKS, headers=DEV_IDENTITY)

    try:
        run()
    except Unsatisfiable:
        return None  # nothing to break in this operation's requests (negative mode of a route without inputs)
    # Check failures come as a FailureGroup (a BaseExceptionGroup); transport errors are findings too.
    except (Exception, BaseExceptionGroup) as exc:
        return f"{operation.label} [{mode.value}]: {exc}"
    return None


class TestApiFuzzing:
    def test_generated_requests_pass_every_check(self, stack: Stack, sizes: Sizes, quarantined: str):
        schema = schemathesis.openapi.from_url(f"{stack.api}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        statuses: Counter[str] = Counter()
        failures = [
            failure
            for operation in operations
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            if (failure := fuzz(operation, mode, sizes.api_examples, statuses)) is not None
        ]
        replay = next(op for op in operations if op.label == "POST /deadletters/{id}/replay")
        seeded = fuzz(replay, GenerationMode.POSITIVE, 5, statuses, path_parameters={"id": quarantined})
        failures += [seeded] if seeded else []
        BOOK.add_row(
            "API fuzzing (schemathesis, fuzzing phase)",
            {
                "operations": len(operations),
                "checks": len(ALL_CHECKS),
                "requests": sum(statuses.values()),
                "by status": ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items())),
                "5xx": sum(n for code, n in statuses.items() if code.startswith("5")),
                "failing operation/mode": len(failures),
            },
        )
        assert len(operations) >= 12
        assert statuses["202"] > 0, "no generated event or replay was accepted: the positive paths went untested"
        assert failures == [], "\n\n".join(failures)
        assert_no_traceback_logged(stack)

    def test_examples_coverage_and_stateful_phases_pass_every_check(
        self, stack: Stack, sizes: Sizes, quarantined: str, tmp_path: Path
    ):
        """Every operation, every check."""
        report = tmp_path / "schemathesis.json"
        command = [
            sys.executable, "-m", "schemathesis.cli", "run", f"{stack.api}/openapi.json",
            "--phases", "examples,coverage,stateful",
            "--checks", "all", "--exclude-checks", ",".join(EXCLUDED_CHECKS),
            *(arg for name, value in DEV_IDENTITY.items() for arg in ("-H", f"{name}: {value}")),
            "--max-examples", str(sizes.api_examples),
            # One worker: CPython 3.11 keeps ast's recursion depth per interpreter, and Hypothesis parses lambdas
            # with ast while generating, so two worker threads now and then abort a run with "AST constructor
            # recursion depth mismatch" (a SystemError inside the tool, not an answer of ours).
            "--workers", "1", "--generation-database", "none", "--no-color",
            "--report", "json", "--report-json-path", str(report),
        ]  # fmt: skip
        # In tmp_path: the CLI keeps a cache directory (.schemathesis/) in its working directory.
        run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False)
        assert report.is_file(), run.stdout[-4000:] + run.stderr[-4000:]
        result = json.loads(report.read_text())
        BOOK.add_row(
            "API fuzzing (schemathesis CLI: examples, coverage, stateful)",
            {
                "operations tested": result["operations"]["tested"],
                "test cases": result["test_cases"]["generated"],
                "failures": result["test_cases"]["unique_failures"],
                "errors": len(result["errors"]),
                "seconds": round(result["running_time"]),
            },
        )
        assert result["operations"]["tested"] == result["operations"]["total"] >= 12
        assert (result["failures"], result["errors"]) == ([], []), run.stdout[-8000:]
        assert run.returncode == 0, run.stdout[-8000:]
        assert_no_traceback_logged(stack)


class TestMalformedRouteValues:
    # The Functions host (Kestrel) decodes every escape in the path except %2F, which stays in the route value;
    # the dev host does the same, so "a%2Fb" reaches the function and is refused there like any bad id.
    @pytest.mark.parametrize("installation_id", ["%0A", "a%0Ab", "abc%0A", "a%09b", "a%0Db", "a%2Fb", "%2F"])
    def test_a_malformed_installation_id_gets_a_problem_response(self, stack: Stack, installation_id: str):
        body = {"platform": "apns", "pushChannel": "ab" * 32, "language": "en-GB"}
        response = httpx.put(f"{stack.api}/installations/{installation_id}", headers=DEV_IDENTITY, json=body)
        assert response.status_code == 400
        assert response.headers.get("content-type", "").startswith("application/problem+json")
        assert response.json()["errors"][0]["location"] == "path:installationId"
        assert_no_traceback_logged(stack)


class TestHostileRequests:
    """Over HTTP into the running dev host; the function tier covers each hostile body route by route."""

    @pytest.mark.parametrize(
        "body",
        [b"[" * 100_000, b'{"id": "a", "id": "b"}', b'{"x": 1e400}', b'{"x": "\xff"}', b'{"x": "\\ud800"}'],
        ids=["nested", "duplicate member", "number beyond a double", "invalid UTF-8", "lone surrogate"],
    )
    def test_hostile_json_is_a_400_problem(self, stack: Stack, body: bytes):
        response = httpx.post(f"{stack.api}/events", headers=EVENT_HEADERS, content=body)
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        assert_no_traceback_logged(stack)

    def test_a_body_over_the_host_limit_is_refused_by_the_host(self, stack: Stack):
        response = httpx.post(f"{stack.api}/events", headers=EVENT_HEADERS, content=b" " * (2 * 1024 * 1024))
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT" in response.json()["detail"]
        assert_no_traceback_logged(stack)
