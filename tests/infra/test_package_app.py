"""infra/package_app.py: the deployment zip honours .funcignore and always leaves out local secrets and venvs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.infra.conftest import INFRA

pytestmark = pytest.mark.infra


def _make_app(root: Path) -> None:
    files = {
        "host.json": "{}",
        "requirements.txt": "azure-functions\n",
        "function_app.py": "",
        "shared/__init__.py": "",
        "shared/sub/module.py": "",
        "shared/__pycache__/module.cpython-311.pyc": "",
        "tests/test_x.py": "",
        "infra/main.bicep": "",
        "local.settings.json": "{}",
        ".venv-checkov/bin/checkov": "",
        "README.md": "",
        "docs/guide.md": "",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / ".funcignore").write_text("# comment\ntests/\ninfra/\ndocs/\n*.md\n")


def _package(root: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(INFRA / "package_app.py"), "--root", str(root), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestPackageApp:
    def test_the_zip_holds_the_app_and_nothing_funcignore_or_the_safety_list_excludes(self, tmp_path: Path) -> None:
        root = tmp_path / "app"
        _make_app(root)
        out = root / ".local" / "app.zip"
        result = _package(root, out)
        assert result.returncode == 0, result.stderr
        with zipfile.ZipFile(out) as archive:
            names = set(archive.namelist())
        assert names == {
            ".funcignore",
            "host.json",
            "requirements.txt",
            "function_app.py",
            "shared/__init__.py",
            "shared/sub/module.py",
            ".local/app.zip",
        } - {".local/app.zip"}

    def test_a_package_without_host_json_is_refused(self, tmp_path: Path) -> None:
        root = tmp_path / "app"
        _make_app(root)
        (root / "host.json").unlink()
        result = _package(root, tmp_path / "app.zip")
        assert result.returncode == 2
        assert "host.json" in result.stderr
