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


def _npm_files(root: Path) -> None:
    """What ``npm ci`` leaves of the two pinned browser packages, as stand-in files."""
    for relative, text in (
        ("chart.js/dist/chart.umd.min.js", "/* chart.js */"),
        ("@microsoft/signalr/dist/browser/signalr.min.js", "/* @microsoft/signalr */"),
    ):
        path = root / "node_modules" / relative
        path.parent.mkdir(parents=True)
        path.write_text(text)


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


class TestVendoredBrowserFiles:
    @pytest.mark.parametrize(
        ("page_file", "page_text", "vendored", "npm_bytes"),
        [
            ("web/console/index.html", "<!doctype html>", "chart.umd.min.js", b"/* chart.js */"),
            ("shared/api/pages/shop.py", "", "signalr.min.js", b"/* @microsoft/signalr */"),
        ],
        ids=["console ships Chart.js", "shop page ships the SignalR client"],
    )
    def test_a_page_ships_with_its_browser_file_from_the_pinned_npm_package(
        self, tmp_path: Path, page_file: str, page_text: str, vendored: str, npm_bytes: bytes
    ) -> None:
        root = tmp_path / "app"
        _make_app(root)
        (root / page_file).parent.mkdir(parents=True)
        (root / page_file).write_text(page_text)
        _npm_files(root)
        (root / ".funcignore").write_text("node_modules/\ntests/\ninfra/\ndocs/\n*.md\n")
        out = tmp_path / "app.zip"
        assert _package(root, out).returncode == 0
        with zipfile.ZipFile(out) as archive:
            assert archive.read(f"web/vendor/{vendored}") == npm_bytes
            assert not any(name.startswith("node_modules/") for name in archive.namelist())

    def test_a_shop_page_without_its_npm_files_is_refused(self, tmp_path: Path) -> None:
        root = tmp_path / "app"
        _make_app(root)
        (root / "shared" / "api" / "pages").mkdir(parents=True)
        (root / "shared" / "api" / "pages" / "shop.py").write_text("")
        result = _package(root, tmp_path / "app.zip")
        assert result.returncode == 2
        assert "node_modules/@microsoft/signalr/dist/browser/signalr.min.js" in result.stderr
        assert "npm ci" in result.stderr

    def test_a_console_without_its_npm_files_is_refused(self, tmp_path: Path) -> None:
        root = tmp_path / "app"
        _make_app(root)
        (root / "web" / "console").mkdir(parents=True)
        (root / "web" / "console" / "index.html").write_text("<!doctype html>")
        result = _package(root, tmp_path / "app.zip")
        assert result.returncode == 2
        assert "npm ci" in result.stderr

    def test_the_real_funcignore_ships_the_console_and_not_node_modules(self) -> None:
        import importlib.util

        spec = importlib.util.spec_from_file_location("package_app", INFRA / "package_app.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        patterns = [*module.ALWAYS_EXCLUDED, *module.read_patterns(INFRA.parent / ".funcignore")]
        assert not module.is_ignored("web/console/console.js", False, patterns)
        assert module.is_ignored("node_modules", True, patterns)
