"""Composition root: one set of services per worker process, built lazily on first use, replaceable in tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from shared.composition.services import Services
from shared.composition.settings import load_settings
from shared.ports import DeadLetterStore, EventPublisher

__all__ = ["Services", "aclose", "override", "reset", "services", "use_bus"]


class _State:
    __slots__ = ("bus", "services")

    def __init__(self) -> None:
        self.services: Services | None = None
        self.bus: tuple[EventPublisher, DeadLetterStore] | None = None


_state = _State()


def use_bus(publisher: EventPublisher, dead_letters: DeadLetterStore) -> None:
    """Plug in a bus other than Service Bus (the dev host's local bus). Call before the first services()."""
    _state.bus = (publisher, dead_letters)
    _state.services = None


def services() -> Services:
    """The process's services, built on first use. Raises ConfigError when settings are missing or invalid."""
    if _state.services is None:
        from shared.composition.wiring import build_services  # the SDK adapters load only when first needed

        _state.services = build_services(load_settings(), _state.bus)
    return _state.services


async def aclose() -> None:
    """Close and forget the process's services (the dev host calls this when it stops)."""
    built, _state.services = _state.services, None
    if built is not None:
        await built.aclose()


@contextmanager
def override(replacement: Services) -> Iterator[Services]:
    """Use ``replacement`` inside the block, then restore what was there (tests)."""
    previous = _state.services
    _state.services = replacement
    try:
        yield replacement
    finally:
        _state.services = previous


def reset() -> None:
    """Forget built services and any plugged-in bus (tests)."""
    _state.services = None
    _state.bus = None
