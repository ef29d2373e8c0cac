"""Fixtures of the local tier: the dev host, the local bus and the NH emulator (``local/``)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from local.nh_emulator.config import EmulatorConfig
from local.nh_emulator.testing import authorization
from tests.local.bus_support import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """The local bus's clock, moved by hand."""
    return FakeClock()


@pytest.fixture
def hub(emulator_url: str, emulator_config: EmulatorConfig) -> Iterator[httpx.Client]:
    """An HTTP client for the emulated hub, signed with the full-rights key, on an empty, fault-free emulator."""
    httpx.delete(f"{emulator_url}_emulator/state").raise_for_status()
    httpx.delete(f"{emulator_url}_emulator/faults").raise_for_status()
    with httpx.Client(base_url=f"{emulator_url}{emulator_config.hub}/", headers=authorization(emulator_url)) as http:
        yield http
    httpx.delete(f"{emulator_url}_emulator/faults").raise_for_status()
