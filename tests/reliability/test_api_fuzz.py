"""Generated requests over /api/openapi.json (schemathesis, in process, against the running dev host): no server
errors, and every response matches the documented status codes, content types and schemas.

Driven with Hypothesis directly, operation by operation and mode by mode (schemathesis' pytest plugin does not
run under this pytest), so every failing operation is reported, each with its shrunk request."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.reliability.report import BOOK
from tests.reliability.sizes import Sizes
from tests.support.stack import Stack

pytestmark = pytest.mark.reliability

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Every role, so the operator and publisher routes are exercised past their authorization checks too.
DEV_IDENTITY = {"X-Dev-User": "fuzzer", "X-Dev-Roles": "push.admin,lob.publisher"}
# Known dev host bug, pinned by TestKnownBugs below: a path parameter holding a line break, tab or an encoded slash
# does not reach the function as sent (bare 404, or the character silently removed). Generated requests skip those
# parameters so the fuzzer keeps looking for new failures; drop this filter when the bug is fixed.
_KNOWN_BAD_CHARACTERS = frozenset("\n\r\t/")


def _has_known_bad_character(path_parameters: dict[str, Any] | None) -> bool:
    """Schemathesis hands path parameters over percent-encoded."""
    return any(_KNOWN_BAD_CHARACTERS.intersection(unquote(str(v))) for v in (path_parameters or {}).values())


def fuzz(operation: Any, mode: GenerationMode, examples: int, statuses: Counter[str]) -> str | None:
    """Run ``examples`` generated requests; the shrunk failure as text, or None when every response passed."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        assume(not _has_known_bad_character(case.path_parameters))
        response = case.call(headers=DEV_IDENTITY, timeout=30)
        statuses[str(response.status_code)] += 1
        case.validate_response(response, checks=CHECKS, headers=DEV_IDENTITY)

    try:
        run()
    except Unsatisfiable:
        return None  # nothing to break in this operation's requests (negative mode of a route without inputs)
    # Check failures come as a FailureGroup (a BaseExceptionGroup); transport errors are findings too.
    except (Exception, BaseExceptionGroup) as exc:
        return f"{operation.label} [{mode.value}]: {exc}"
    return None


class TestApiFuzzing:
    def test_generated_requests_get_no_server_error_and_a_documented_response(self, stack: Stack, sizes: Sizes):
        schema = schemathesis.openapi.from_url(f"{stack.api}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        statuses: Counter[str] = Counter()
        failures = [
            failure
            for operation in operations
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            if (failure := fuzz(operation, mode, sizes.api_examples, statuses)) is not None
        ]
        BOOK.add_row(
            "API fuzzing (schemathesis)",
            {
                "operations": len(operations),
                "requests": sum(statuses.values()),
                "by status": ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items())),
                "5xx": sum(n for code, n in statuses.items() if code.startswith("5")),
                "failing operation/mode": len(failures),
            },
        )
        assert len(operations) >= 10
        assert failures == [], "\n\n".join(failures)


class TestMalformedRouteValues:
    # "a%2Fb" is not here: a decoded slash makes two path segments, a route that does not exist, and the host
    # itself answers 404 for it (as the Functions host does), before any function runs.
    @pytest.mark.parametrize("installation_id", ["%0A", "a%0Ab", "abc%0A", "a%09b", "a%0Db"])
    def test_a_malformed_installation_id_gets_a_problem_response(self, stack: Stack, installation_id: str):
        body = {"platform": "apns", "pushChannel": "ab" * 32, "language": "en-GB"}
        response = httpx.put(f"{stack.api}/installations/{installation_id}", headers=DEV_IDENTITY, json=body)
        assert response.status_code in (400, 404)
        assert response.headers.get("content-type", "").startswith("application/problem+json")
