"""Reliability tier fixtures: sizes from the environment, a stack per module, the result tables at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.reliability.report import BOOK
from tests.reliability.sizes import Sizes
from tests.support.stack import Stack, running_stack


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability: faults, crash, storage outage, generated input and load (sizes: tests/reliability)"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if BOOK.tallies or BOOK.tables:
        terminalreporter.write_sep("=", "reliability results")
        terminalreporter.write_line(BOOK.render())
        BOOK.save()


@pytest.fixture(scope="session")
def sizes() -> Sizes:
    return Sizes.from_env()


@pytest.fixture(scope="module")
def stack(azurite_tables: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir: Path = tmp_path_factory.mktemp("reliability")
    with running_stack(azurite_tables, workdir) as running:
        yield running


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client
