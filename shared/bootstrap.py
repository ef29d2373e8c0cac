"""Composition root: one set of clients per worker process, built lazily on first use, replaceable in tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.config import Settings, load_settings
from shared.dispatch import default_redelivery_backoff
from shared.ports import (
    DeadLetterStore,
    DeliveryLog,
    EventPublisher,
    InstallationMirror,
    PreferencesStore,
    PushGateway,
    QuarantineStore,
)
from shared.registration import RegistrationPorts

__all__ = ["Services", "aclose", "override", "reset", "services", "use_bus"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """Everything the functions need, built once per process."""

    settings: Settings
    push: PushGateway
    installations: InstallationMirror
    preferences: PreferencesStore
    deliveries: DeliveryLog
    quarantine: QuarantineStore
    publisher: EventPublisher
    dead_letters: DeadLetterStore
    now: Callable[[], datetime] = utc_now
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    redelivery_backoff: Callable[[int], float] = default_redelivery_backoff

    async def aclose(self) -> None:
        """Close the clients this set created (HTTP pools, credentials), each once."""
        closers, self.closers = self.closers, []
        for close in reversed(closers):
            await close()

    @property
    def registration(self) -> RegistrationPorts:
        return RegistrationPorts(self.push, self.installations, self.preferences, self.now)


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
        from shared.wiring import build_services  # the SDK adapters load only when first needed

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
