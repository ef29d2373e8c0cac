"""End-to-end tier: Azurite, the NH emulator and the dev host as processes, driven over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.api_client import ApiClient
from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack(azurite_tables: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir: Path = tmp_path_factory.mktemp("e2e")
    with running_stack(azurite_tables, workdir) as running:
        yield running


@pytest.fixture
def client(stack: Stack) -> Iterator[ApiClient]:
    with httpx.Client(timeout=30) as http:
        http.delete(f"{stack.emulator}_emulator/faults").raise_for_status()
        yield ApiClient(stack.api, stack.emulator, http)
