"""The shop page's files ship with the app: they live under shared/, which .funcignore does not exclude."""

from __future__ import annotations

import pytest

from infra.package_app import included_files, read_patterns
from tests.infra.conftest import ROOT

pytestmark = pytest.mark.infra


def test_the_shop_page_and_its_files_are_in_the_deployment_package() -> None:
    shipped = {path.relative_to(ROOT).as_posix() for path in included_files(ROOT, read_patterns(ROOT / ".funcignore"))}
    static = "shared/api/pages/static"
    assert {f"{static}/shop.html", f"{static}/shop.js", f"{static}/shop.css", "shared/api/pages/shop.py"} <= shipped
    assert not any(name.startswith(("tests/", "local/", "docs/")) for name in shipped)
