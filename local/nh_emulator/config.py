"""Settings of the Notification Hubs emulator and its well-known keys."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

__all__ = [
    "BACKEND_RULE_NAME",
    "DEFAULT_HUB",
    "DEFAULT_PORT",
    "FULL_RULE_NAME",
    "LISTEN_RULE_NAME",
    "WELL_KNOWN_BACKEND_KEY",
    "WELL_KNOWN_FULL_KEY",
    "WELL_KNOWN_LISTEN_KEY",
    "EmulatorConfig",
    "Right",
    "Tier",
    "connection_string",
]

DEFAULT_HUB = "enterprise-push"
DEFAULT_PORT = 9099
FULL_RULE_NAME = "DefaultFullSharedAccessSignature"
LISTEN_RULE_NAME = "DefaultListenSharedAccessSignature"
# The rule infra/modules/notificationhubs.bicep gives the app in Azure: Listen (installations) and Send, no Manage.
BACKEND_RULE_NAME = "backend-listen-send"
# Fixed and public on purpose, like Azurite's well-known account key: they guard nothing but a local emulator.
WELL_KNOWN_FULL_KEY = "RW50ZXJwcmlzZVB1c2hOaEVtdWxhdG9yRnVsbEtleTA="
WELL_KNOWN_LISTEN_KEY = "RW50ZXJwcmlzZVB1c2hOaEVtdWxhdG9yTGlzdGVuSzA="
WELL_KNOWN_BACKEND_KEY = "RW50ZXJwcmlzZVB1c2hOaEVtdWxhdG9yQmFja2VuZDA="


class Tier(StrEnum):
    """Notification Hubs pricing tier; it gates telemetry, scheduling, batch sends and Location."""

    FREE = "Free"
    BASIC = "Basic"
    STANDARD = "Standard"


class Right(StrEnum):
    """SAS claims a rule can carry."""

    LISTEN = "Listen"
    SEND = "Send"
    MANAGE = "Manage"


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator can be told; defaults match a Standard hub with the well-known keys."""

    hub: str = DEFAULT_HUB
    tier: Tier = Tier.STANDARD
    full_key_name: str = FULL_RULE_NAME
    full_key: str = WELL_KNOWN_FULL_KEY
    listen_key_name: str = LISTEN_RULE_NAME
    listen_key: str = WELL_KNOWN_LISTEN_KEY
    backend_key_name: str = BACKEND_RULE_NAME
    backend_key: str = WELL_KNOWN_BACKEND_KEY
    clock_skew: float = 300.0
    """Seconds a token may be past its expiry and still be accepted."""
    read_delay: float = 0.0
    """Seconds before an installation write becomes visible to GET and sends (NH is eventually consistent)."""
    tag_case_sensitive: bool = True
    max_tags_per_installation: int = 60
    state_file: Path | None = None
    sink: bool = False
    """Accept sends as NH does (auth, validation, 201) but neither fan out nor record them (benchmarks)."""
    https: bool = False
    tls_dir: Path | None = None
    """Where the self-signed CA and certificate are written when https is on (a temporary folder if unset)."""
    scheduler_interval: float = 0.1
    app_api: str | None = None
    """The app's API base (``http://127.0.0.1:7071/api``): the phone page "opens the app" against it."""
    max_test_send_devices: int = 10
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def rules(self) -> dict[str, tuple[str, frozenset[Right]]]:
        """Rule name -> (key, rights): the hub's two default rules and the app's Listen+Send rule."""
        return {
            self.full_key_name: (self.full_key, frozenset({Right.LISTEN, Right.SEND, Right.MANAGE})),
            self.listen_key_name: (self.listen_key, frozenset({Right.LISTEN})),
            self.backend_key_name: (self.backend_key, frozenset({Right.LISTEN, Right.SEND})),
        }


def connection_string(endpoint: str, key_name: str, key: str) -> str:
    """Build an NH connection string for ``endpoint`` (``http://host:port/`` or ``https://host:port/``)."""
    if not endpoint.endswith("/"):
        endpoint += "/"
    return f"Endpoint={endpoint};SharedAccessKeyName={key_name};SharedAccessKey={key}"
