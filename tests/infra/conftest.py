"""Shared paths and the parsed Bicep for the infra tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))


def parse_bicep(path: Path) -> dict[str, Any]:
    """Parse one Bicep file; pycep raises ValueError (unbalanced ''') or a lark ParseError."""
    return cast(dict[str, Any], BicepParser().parse(file_path=path))


@pytest.fixture(scope="session")
def function_app_bicep() -> dict[str, Any]:
    return parse_bicep(INFRA / "modules" / "functionapp.bicep")
