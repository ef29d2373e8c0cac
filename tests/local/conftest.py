"""Fixtures of the local tier: the dev host, the local bus and the NH emulator (``local/``)."""

from __future__ import annotations

import pytest

from tests.local.bus_support import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """The local bus's clock, moved by hand."""
    return FakeClock()
