"""Every app setting the code reads, parsed once into a frozen, typed Settings.

``APP_SETTINGS`` is the single list of setting names the application reads. The Bicep in
``infra/`` and ``local.settings.json.example`` are checked against it by tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from shared.domain.errors import ConfigError
from shared.domain.publishers import PublisherScopes
from shared.domain.topics import TOPICS

__all__ = ["APP_SETTINGS", "PLATFORM_SETTINGS", "AuthMode", "SettingSpec", "Settings", "load_settings"]


class AuthMode(StrEnum):
    EASYAUTH = "easyauth"
    DEV = "dev"


@dataclass(frozen=True)
class SettingSpec:
    """One app setting: its name, whether the app fails without it, and what it is for."""

    name: str
    required: bool
    description: str


APP_SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("AUTH_MODE", True, "'easyauth' in Azure (trust X-MS-CLIENT-PRINCIPAL), 'dev' locally (X-Dev-User)"),
    SettingSpec("PUSH_NH_CONNECTION_STRING", True, "Notification Hubs connection string, Listen+Send; Key Vault ref"),
    SettingSpec("PUSH_NH_HUB_NAME", True, "Notification Hubs hub name"),
    SettingSpec("PUSH_TABLES_ENDPOINT", False, "Table service URL, used with the managed identity (Azure)"),
    SettingSpec("PUSH_TABLES_CONNECTION_STRING", False, "Table connection string (Azurite locally)"),
    SettingSpec("AZURE_CLIENT_ID", False, "client id of the user-assigned managed identity"),
    SettingSpec("ServiceBusConnection", False, "Service Bus connection string (local bus or emulator)"),
    SettingSpec("ServiceBusConnection__fullyQualifiedNamespace", False, "Service Bus namespace host (Azure)"),
    SettingSpec("LOB_SIMULATOR_ENABLED", False, "'true' to publish simulated LoB events on a timer"),
    SettingSpec("LOB_SIMULATOR_SCHEDULE", False, "NCRONTAB schedule of the LoB simulator timer"),
    SettingSpec("CAMPAIGN_SCHEDULE", False, "NCRONTAB schedule of the timer that plans, sends and follows campaigns"),
    SettingSpec("INSTALLATION_SWEEP_SCHEDULE", False, "NCRONTAB schedule of the idle-installation sweep"),
    SettingSpec("INSTALLATION_IDLE_DAYS", False, "days without a refresh after which an installation is removed (270)"),
    SettingSpec("ORDERS_SHIP_AFTER_SECONDS", False, "wait between an order's confirmation and shipping (3600)"),
    SettingSpec("ORDERS_DELIVER_AFTER_SECONDS", False, "wait between shipping and delivery (86400)"),
    SettingSpec("ORDERS_OUTBOX_SCHEDULE", False, "NCRONTAB schedule of the timer that relays the order outbox"),
    SettingSpec("APPLICATIONINSIGHTS_CONNECTION_STRING", False, "Application Insights: OpenTelemetry exports there"),
    SettingSpec(
        "PUSH_TELEMETRY_FILE", False, "local only: a file the spans are written to as JSON lines (rotated at 20 MB)"
    ),
    SettingSpec("PUSH_DECISION_RETENTION_DAYS", False, "days the decision ledger keeps a decision (default 30)"),
    SettingSpec(
        "LOB_PUBLISHER_SOURCES",
        False,
        'JSON {"roles": {app role: [source]}, "principals": {object id: [source]}}: what each publisher may publish',
    ),
    SettingSpec(
        "PUSH_SIGNALR_CONNECTION_STRING", False, "Azure SignalR Service (AccessKey); Key Vault ref; unset: push only"
    ),
    SettingSpec("PUSH_SIGNALR_ENDPOINT", False, "Azure SignalR Service URL, used with the managed identity (Azure)"),
    SettingSpec("PUSH_INAPP_FALLBACK_SECONDS", False, "seconds an in-app notification may go unseen before the push"),
    SettingSpec("PUSH_CORS_ORIGINS", False, "comma-separated browser origins allowed to call the app's routes"),
)

# Set by App Service itself, never by us: the app reads them to know where it runs and whether the platform
# authenticates requests. Bicep must not write them as app settings (an app setting WEBSITE_AUTH_ENABLED=True
# would forge the very signal that makes the app trust X-MS-CLIENT-PRINCIPAL).
PLATFORM_SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("WEBSITE_AUTH_ENABLED", False, "'True' when App Service Authentication runs in front of the app"),
    SettingSpec("WEBSITE_INSTANCE_ID", False, "set on every App Service / Functions instance in Azure"),
    SettingSpec("WEBSITE_SITE_NAME", False, "the app's name, set in Azure"),
)

DEFAULT_SHIP_AFTER = timedelta(hours=1)
DEFAULT_DELIVER_AFTER = timedelta(days=1)

DEFAULT_INAPP_FALLBACK = timedelta(seconds=5)
_MAX_INAPP_FALLBACK_SECONDS = 300

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _seconds(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 30 * 86400:
        raise ConfigError(f"{name} must be a number of seconds between 0 and 2592000, not {raw!r}")
    return timedelta(seconds=seconds)


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _positive_int(env: Mapping[str, str], name: str, default: int, problems: list[str]) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        problems.append(f"{name} must be a whole number of at least 1, not {raw!r}")
        return default
    return int(raw)


@dataclass(frozen=True)
class Settings:
    """The application's configuration. Secrets are kept out of ``repr``."""

    auth_mode: AuthMode
    nh_connection_string: str
    nh_hub_name: str
    tables_endpoint: str | None
    tables_connection_string: str | None
    managed_identity_client_id: str | None
    service_bus_connection_string: str | None
    service_bus_namespace: str | None
    lob_simulator_enabled: bool
    running_in_azure: bool
    app_insights_connection_string: str | None = None
    telemetry_file: str | None = None
    decision_retention_days: int = 30
    platform_authentication: bool = False
    """App Service Authentication runs in front of the app (the platform's WEBSITE_AUTH_ENABLED)."""
    publisher_scopes: PublisherScopes = field(default_factory=PublisherScopes)
    orders_ship_after: timedelta = DEFAULT_SHIP_AFTER
    orders_deliver_after: timedelta = DEFAULT_DELIVER_AFTER
    installation_idle_days: int = 270
    signalr_connection_string: str | None = field(default=None, repr=False)
    signalr_endpoint: str | None = None
    inapp_fallback: timedelta = DEFAULT_INAPP_FALLBACK
    cors_origins: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"Settings(auth_mode={self.auth_mode.value!r}, nh_hub_name={self.nh_hub_name!r}, "
            f"tables={'endpoint' if self.tables_endpoint else 'connection string'}, "
            f"service_bus={'namespace' if self.service_bus_namespace else 'connection string'}, "
            f"realtime={'on' if self.signalr_connection_string or self.signalr_endpoint else 'off'})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Parse settings; raises ConfigError naming every missing or invalid setting."""
        problems = [f"{spec.name} is not set" for spec in APP_SETTINGS if spec.required and not env.get(spec.name)]
        raw_mode = env.get("AUTH_MODE", "")
        auth_mode: AuthMode | None = None
        if raw_mode:
            try:
                auth_mode = AuthMode(raw_mode.strip().lower())
            except ValueError:
                problems.append(f"AUTH_MODE must be one of {[m.value for m in AuthMode]}, not {raw_mode!r}")
        running_in_azure = bool(env.get("WEBSITE_INSTANCE_ID") or env.get("WEBSITE_SITE_NAME"))
        if auth_mode is AuthMode.DEV and running_in_azure:
            problems.append("AUTH_MODE=dev trusts plain headers and is refused where the app runs in Azure")
        if not (env.get("PUSH_TABLES_ENDPOINT") or env.get("PUSH_TABLES_CONNECTION_STRING")):
            problems.append("one of PUSH_TABLES_ENDPOINT or PUSH_TABLES_CONNECTION_STRING must be set")
        try:
            simulator = _flag(env, "LOB_SIMULATOR_ENABLED", default=False)
        except ConfigError as exc:
            problems.append(str(exc))
            simulator = False
        retention = env.get("PUSH_DECISION_RETENTION_DAYS", "30").strip() or "30"
        if not retention.isdigit() or not 1 <= int(retention) <= 3650:
            problems.append(f"PUSH_DECISION_RETENTION_DAYS must be a number of days from 1 to 3650, not {retention!r}")
            retention = "30"
        try:
            scopes = publisher_scopes(env.get("LOB_PUBLISHER_SOURCES"))
        except ConfigError as exc:
            problems.append(str(exc))
            scopes = PublisherScopes()
        waits: list[timedelta] = []
        for name, default in (
            ("ORDERS_SHIP_AFTER_SECONDS", DEFAULT_SHIP_AFTER),
            ("ORDERS_DELIVER_AFTER_SECONDS", DEFAULT_DELIVER_AFTER),
        ):
            try:
                waits.append(_seconds(env, name, default))
            except ConfigError as exc:
                problems.append(str(exc))
        idle_days = _positive_int(env, "INSTALLATION_IDLE_DAYS", 270, problems)
        fallback = _fallback_seconds(env, "PUSH_INAPP_FALLBACK_SECONDS", problems)
        origins = tuple(o.strip().rstrip("/") for o in env.get("PUSH_CORS_ORIGINS", "").split(",") if o.strip())
        if "*" in origins:
            problems.append("PUSH_CORS_ORIGINS must name origins: '*' cannot be used with credentials")
        if problems or auth_mode is None:
            raise ConfigError("invalid configuration: " + "; ".join(problems))
        return cls(
            auth_mode=auth_mode,
            nh_connection_string=env["PUSH_NH_CONNECTION_STRING"],
            nh_hub_name=env["PUSH_NH_HUB_NAME"],
            tables_endpoint=env.get("PUSH_TABLES_ENDPOINT") or None,
            tables_connection_string=env.get("PUSH_TABLES_CONNECTION_STRING") or None,
            managed_identity_client_id=env.get("AZURE_CLIENT_ID") or None,
            service_bus_connection_string=env.get("ServiceBusConnection") or None,
            service_bus_namespace=env.get("ServiceBusConnection__fullyQualifiedNamespace") or None,
            lob_simulator_enabled=simulator,
            running_in_azure=running_in_azure,
            app_insights_connection_string=env.get("APPLICATIONINSIGHTS_CONNECTION_STRING") or None,
            telemetry_file=env.get("PUSH_TELEMETRY_FILE") or None,
            decision_retention_days=int(retention),
            # App Service writes "True"; anything else (absent, "False", a typo) means no platform authentication, and
            # so does the setting without the other variables App Service sets (copied into a container elsewhere).
            platform_authentication=running_in_azure and env.get("WEBSITE_AUTH_ENABLED", "").strip().lower() == "true",
            publisher_scopes=scopes,
            orders_ship_after=waits[0],
            orders_deliver_after=waits[1],
            installation_idle_days=idle_days,
            signalr_connection_string=env.get("PUSH_SIGNALR_CONNECTION_STRING") or None,
            signalr_endpoint=env.get("PUSH_SIGNALR_ENDPOINT") or None,
            inapp_fallback=fallback,
            cors_origins=origins,
        )

    @property
    def identity_headers_trusted(self) -> bool:
        """Whether this deployment may read an identity from request headers at all: dev headers in dev mode,
        X-MS-CLIENT-PRINCIPAL only where App Service Authentication is on (it strips and sets those headers)."""
        return self.auth_mode is AuthMode.DEV or self.platform_authentication


def publisher_scopes(text: str | None) -> PublisherScopes:
    """Parse LOB_PUBLISHER_SOURCES: ``{"roles": {role: [source, ...]}, "principals": {object id: [source, ...]}}``.

    Absent or empty means no publisher may publish. Raises ConfigError for any other shape and for a source no
    LoB system publishes (a typo would otherwise lock a system out without a word).
    """
    if text is None or not text.strip():
        return PublisherScopes()
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"LOB_PUBLISHER_SOURCES is not JSON: {exc}") from exc
    if not isinstance(document, dict) or not set(document) <= {"roles", "principals"}:
        raise ConfigError('LOB_PUBLISHER_SOURCES must be an object {"roles": {...}, "principals": {...}}')
    return PublisherScopes(
        roles=_scope_map(document.get("roles", {}), "roles"),
        principals=_scope_map(document.get("principals", {}), "principals"),
    )


def _scope_map(value: object, key: str) -> dict[str, frozenset[str]]:
    where = f"LOB_PUBLISHER_SOURCES.{key}"
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be an object of name -> list of sources")
    known = set(TOPICS.values())
    scopes: dict[str, frozenset[str]] = {}
    for name, sources in value.items():
        if not isinstance(sources, list) or not all(isinstance(source, str) for source in sources):
            raise ConfigError(f'{where}[{name!r}] must be a list of CloudEvent sources such as ["/lob/hr"]')
        unknown = sorted(set(sources) - known)
        if unknown:
            raise ConfigError(f"{where}[{name!r}] names sources no LoB system publishes: {unknown}")
        scopes[str(name)] = frozenset(sources)
    return scopes


def _fallback_seconds(env: Mapping[str, str], name: str, problems: list[str]) -> timedelta:
    raw = env.get(name, "").strip()
    if not raw:
        return DEFAULT_INAPP_FALLBACK
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= _MAX_INAPP_FALLBACK_SECONDS:
        problems.append(f"{name} must be a number of seconds above 0 and at most {_MAX_INAPP_FALLBACK_SECONDS}")
        return DEFAULT_INAPP_FALLBACK
    return timedelta(seconds=value)


def load_settings() -> Settings:
    """Settings from the process environment (the Functions host puts app settings there)."""
    return Settings.from_env(os.environ)
