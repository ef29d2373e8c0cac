"""infra/deploy.sh: the dry-run command sequence, a full run against stub az and curl, and its errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import INFRA, ROOT

pytestmark = pytest.mark.infra

DEPLOY = INFRA / "deploy.sh"
BASH = shutil.which("bash") or "/bin/bash"
BASE_ARGS = ["--env", "dev", "--resource-group", "rg-push-dev", "--location", "westeurope"]

# Records each call (one line of arguments) and answers the queries deploy.sh makes.
STUB_AZ = """#!/bin/sh
printf '%s\\n' "$*" >> "$STUB_LOG"
case "$*" in
  "account show"*) [ -n "$AZ_LOGGED_OUT" ] && exit 1; exit 0 ;;
  *functionAppName*) echo func-push-dev-abc ;;
  *functionAppUrl*) echo https://func-push-dev-abc.azurewebsites.net ;;
esac
exit 0
"""
STUB_RECORDER = """#!/bin/sh
printf '%s %s\\n' "$(basename "$0")" "$*" >> "$STUB_LOG"
exit 0
"""


def _bin(tmp_path: Path, *, with_az: bool = True, with_func: bool = False) -> Path:
    """A PATH directory holding only the stubs (and python3): any other tool deploy.sh calls is missing."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stubs = {"curl": STUB_RECORDER}
    if with_az:
        stubs["az"] = STUB_AZ
    if with_func:
        stubs["func"] = STUB_RECORDER
    for name, text in stubs.items():
        script = bin_dir / name
        script.write_text(text)
        script.chmod(0o755)
    (bin_dir / "python3").symlink_to(sys.executable)
    for tool in ("basename", "sed", "tr", "ls"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return bin_dir


def _run(tmp_path: Path, *args: str, bin_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": str(bin_dir), "STUB_LOG": str(tmp_path / "calls.log"), "HOME": str(tmp_path), **env}
    return subprocess.run(
        [BASH, str(DEPLOY), *args], capture_output=True, text=True, env=environment, timeout=60, check=False
    )


def _calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def _commands(stderr: str) -> list[str]:
    return [line[2:] for line in stderr.splitlines() if line.startswith("+ ")]


class TestDryRun:
    def test_dry_run_prints_the_whole_sequence_without_running_anything_when_az_is_missing(
        self, tmp_path: Path
    ) -> None:
        result = _run(tmp_path, *BASE_ARGS, "--dry-run", bin_dir=_bin(tmp_path, with_az=False))
        assert result.returncode == 0, result.stderr
        commands = _commands(result.stderr)
        template, params = INFRA / "main.bicep", INFRA / "env" / "dev.parameters.json"
        package = ROOT / ".local" / "deploy" / "app.zip"
        assert commands == [
            "az group create --name rg-push-dev --location westeurope "
            "--tags application=enterprise-push environment=dev --output none",
            f"az deployment group create --resource-group rg-push-dev --name enterprise-push-dev "
            f"--template-file {template} --parameters @{params} --output none",
            "az deployment group show --resource-group rg-push-dev --name enterprise-push-dev "
            "--query properties.outputs.functionAppName.value --output tsv",
            "az deployment group show --resource-group rg-push-dev --name enterprise-push-dev "
            "--query properties.outputs.functionAppUrl.value --output tsv",
            f"python3 {INFRA / 'package_app.py'} --root {ROOT} --out {package}",
            "az functionapp deployment source config-zip --resource-group rg-push-dev --name FUNCTION_APP_NAME "
            f"--src {package} --build-remote true",
            "curl --fail --silent --show-error --retry 12 --retry-delay 10 --retry-all-errors --max-time 30 "
            "https://FUNCTION_APP_HOST/api/health",
        ]
        assert _calls(tmp_path) == []
        assert "dry run, nothing was run" in result.stdout

    def test_dry_run_with_what_if_and_secrets_shows_what_if_before_create(self, tmp_path: Path) -> None:
        secrets = tmp_path / "secrets.json"
        secrets.write_text("{}")
        args = [*BASE_ARGS, "--dry-run", "--what-if", "--secrets-file", str(secrets), "--subscription", "sub-1"]
        result = _run(tmp_path, *args, bin_dir=_bin(tmp_path))
        assert result.returncode == 0, result.stderr
        commands = _commands(result.stderr)
        assert commands[1].startswith("az deployment group what-if --subscription sub-1 --resource-group rg-push-dev")
        assert commands[2].startswith("az deployment group create --subscription sub-1")
        assert all(f"--parameters @{secrets}" in command for command in commands[1:3])
        assert _calls(tmp_path) == []

    def test_dry_run_publishes_with_core_tools_when_func_is_installed(self, tmp_path: Path) -> None:
        result = _run(tmp_path, *BASE_ARGS, "--dry-run", bin_dir=_bin(tmp_path, with_func=True))
        commands = _commands(result.stderr)
        assert "func azure functionapp publish FUNCTION_APP_NAME --python" in commands
        assert not any("config-zip" in command for command in commands)


class TestRealRunAgainstStubs:
    def test_a_run_calls_az_in_order_uploads_the_package_and_probes_health(self, tmp_path: Path) -> None:
        package = tmp_path / "out" / "app.zip"
        result = _run(tmp_path, *BASE_ARGS, bin_dir=_bin(tmp_path), DEPLOY_PACKAGE=str(package))
        assert result.returncode == 0, result.stderr
        calls = _calls(tmp_path)
        assert [call.split(" --")[0] for call in calls] == [
            "account show",
            "group create",
            "deployment group create",
            "deployment group show",
            "deployment group show",
            "functionapp deployment source config-zip",
            "curl",
        ]
        assert "--name func-push-dev-abc" in calls[5]
        assert calls[6].endswith("https://func-push-dev-abc.azurewebsites.net/api/health")
        assert package.exists()
        assert f"--src {package}" in calls[5]
        assert "func-push-dev-abc is deployed at https://func-push-dev-abc.azurewebsites.net" in result.stdout

    def test_skip_infra_only_publishes_and_probes(self, tmp_path: Path) -> None:
        result = _run(tmp_path, *BASE_ARGS, "--skip-infra", "--skip-code", bin_dir=_bin(tmp_path))
        assert result.returncode == 0, result.stderr
        assert [call.split(" --")[0] for call in _calls(tmp_path)] == [
            "account show",
            "deployment group show",
            "deployment group show",
            "curl",
        ]


class TestErrors:
    def test_a_missing_az_is_a_clear_error(self, tmp_path: Path) -> None:
        result = _run(tmp_path, *BASE_ARGS, bin_dir=_bin(tmp_path, with_az=False))
        assert result.returncode == 1
        assert "Azure CLI (az) is not installed" in result.stderr

    def test_a_logged_out_az_is_a_clear_error(self, tmp_path: Path) -> None:
        result = _run(tmp_path, *BASE_ARGS, bin_dir=_bin(tmp_path), AZ_LOGGED_OUT="1")
        assert result.returncode == 1
        assert "not logged in; run 'az login'" in result.stderr
        assert _calls(tmp_path) == ["account show --output none"]

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--resource-group", "rg", "--location", "x"], "--env is required"),
            (["--env", "nope", "--resource-group", "rg", "--location", "x"], "no parameters file for environment"),
            ([*BASE_ARGS, "--secrets-file", "/nonexistent.json"], "secrets file not found"),
            ([*BASE_ARGS, "--publisher", "ftp"], "--publisher must be zip or func"),
            ([*BASE_ARGS, "--bogus"], "unknown option '--bogus'"),
        ],
    )
    def test_bad_arguments_are_refused_before_anything_runs(
        self, tmp_path: Path, args: list[str], message: str
    ) -> None:
        result = _run(tmp_path, *args, bin_dir=_bin(tmp_path))
        assert result.returncode == 1
        assert message in result.stderr
        assert _calls(tmp_path) == []

    def test_what_if_without_a_terminal_or_yes_deploys_nothing(self, tmp_path: Path) -> None:
        result = _run(tmp_path, *BASE_ARGS, "--what-if", bin_dir=_bin(tmp_path))
        assert result.returncode == 1
        assert "re-run with --yes" in result.stderr
        assert not any(call.startswith("deployment group create") for call in _calls(tmp_path))


def test_the_script_is_executable() -> None:
    assert os.access(DEPLOY, os.X_OK)
