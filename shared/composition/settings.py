"""Every app setting the code reads, parsed once into a frozen, typed Settings.

``APP_SETTINGS`` is the single list of setting names the application reads. The Bicep in
``infra/`` and ``local.settings.json.example`` are checked against it by tests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from shared.domain.errors import ConfigError

__all__ = ["APP_SETTINGS", "AuthMode", "SettingSpec", "Settings", "load_settings"]


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
    SettingSpec(
        "PUSH_SIGNALR_CONNECTION_STRING", False, "Azure SignalR Service (AccessKey); Key Vault ref; unset: push only"
    ),
    SettingSpec("PUSH_SIGNALR_ENDPOINT", False, "Azure SignalR Service URL, used with the managed identity (Azure)"),
    SettingSpec("PUSH_INAPP_FALLBACK_SECONDS", False, "seconds an in-app notification may go unseen before the push"),
    SettingSpec("PUSH_CORS_ORIGINS", False, "comma-separated browser origins allowed to call the app's routes"),
)

DEFAULT_INAPP_FALLBACK = timedelta(seconds=5)
_MAX_INAPP_FALLBACK_SECONDS = 300

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


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
        fallback = _seconds(env, "PUSH_INAPP_FALLBACK_SECONDS", problems)
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
            signalr_connection_string=env.get("PUSH_SIGNALR_CONNECTION_STRING") or None,
            signalr_endpoint=env.get("PUSH_SIGNALR_ENDPOINT") or None,
            inapp_fallback=fallback,
            cors_origins=origins,
        )


def _seconds(env: Mapping[str, str], name: str, problems: list[str]) -> timedelta:
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
