"""Fixtures shared by every test tier."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from shared.composition import correlation
from shared.composition import root as bootstrap
from tests.support import azurite


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
