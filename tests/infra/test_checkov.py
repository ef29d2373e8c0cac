"""checkov scans infra/ (Bicep) with no failed check and no file it cannot parse."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from tests.infra.conftest import INFRA, ROOT

pytestmark = pytest.mark.infra

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
# Offline: no guideline download from the vendor platform and no update check.
OFFLINE_ENV = {"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.skip("checkov is not installed in .venv-checkov (make infra-check installs it)")
    result = subprocess.run(
        [str(CHECKOV), "--directory", str(INFRA), "--framework", "bicep", "--skip-download", "--output", "json"],
        capture_output=True,
        text=True,
        env={**os.environ, **OFFLINE_ENV},
        timeout=240,
        check=False,
    )
    parsed = json.loads(result.stdout)
    data: dict[str, Any] = parsed[0] if isinstance(parsed, list) else parsed
    return data


class TestCheckov:
    def test_checkov_parses_every_bicep_file_and_checks_the_resources_it_knows(self, report: dict[str, Any]) -> None:
        assert report["summary"]["parsing_errors"] == 0
        records = [record for key in ("passed_checks", "skipped_checks") for record in report["results"][key]]
        scanned = {record["file_path"] for record in records}
        assert {
            f"/modules/{name}.bicep" for name in ("functionapp", "keyvault", "storage", "notificationhubs")
        } <= scanned

    def test_checkov_finds_no_failed_check(self, report: dict[str, Any]) -> None:
        failed = [
            f"{r['check_id']} {r['resource']} ({r['file_path']}): {r['check_name']}"
            for r in report["results"]["failed_checks"]
        ]
        assert failed == []

    def test_every_skip_carries_a_justification(self, report: dict[str, Any]) -> None:
        for record in report["results"]["skipped_checks"]:
            assert len(record["check_result"].get("suppress_comment", "")) > 20, record["check_id"]
