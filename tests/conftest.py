"""Fixtures shared by every test tier."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from shared.composition import correlation
from shared.composition import root as bootstrap
from tests.support import azurite

if TYPE_CHECKING:
    from local.nh_emulator.config import EmulatorConfig


def random_id(prefix: str = "") -> str:
    """A short unique id, so tests sharing a server (Azurite, the NH emulator) never collide."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def azurite_tables() -> Iterator[str]:
    """Connection string of Azurite's table service, started once per session (or reused, see tests.support)."""
    with azurite.azurite_tables() as conn_str:
        yield conn_str


@pytest.fixture(scope="session", autouse=True)
def _opentelemetry_sdk() -> None:
    """Every tier runs with OpenTelemetry's SDK tracer (spans have ids, as in the app once its services are built)
    and the log correlation installed, whichever test comes first. OpenTelemetry allows one provider per process."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    correlation.install_log_correlation()


@pytest.fixture(autouse=True)
def _fresh_composition_root() -> Iterator[None]:
    """Every test starts and ends without built services or a plugged-in bus, whatever the previous one did."""
    bootstrap.reset()
    yield
    bootstrap.reset()


@pytest.fixture(scope="module")
def emulator_config() -> EmulatorConfig:
    """How the module's NH emulator is set up: a test module defines its own ``emulator_config`` to change it."""
    from local.nh_emulator.config import EmulatorConfig

    return EmulatorConfig()


@pytest.fixture(scope="module")
def emulator_url(emulator_config: EmulatorConfig) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:{port}/``) of an NH emulator that runs, in process, for one test module."""
    from local.nh_emulator.testing import running_emulator

    with running_emulator(emulator_config) as url:
        yield url
