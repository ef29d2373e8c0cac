"""App settings and host.json for local runs, read the way Core Tools reads them."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.domain.errors import ConfigError

__all__ = [
    "HostConfig",
    "LocalSettings",
    "export_settings",
    "load_host_config",
    "load_local_settings",
    "resolve_setting_refs",
]

_SETTING_REF = re.compile(r"%([^%]+)%")


@dataclass(frozen=True)
class LocalSettings:
    """The "Values" of local.settings.json (or its .example) merged under the process environment."""

    values: dict[str, str]
    source: Path | None
    local_http_port: int | None = None


@dataclass(frozen=True)
class HostConfig:
    """The parts of host.json the dev host honours."""

    route_prefix: str = "api"
    max_concurrent_calls: int = field(default_factory=lambda: 16 * (os.cpu_count() or 1))
    max_auto_lock_renewal: float = 300.0
    max_message_batch_size: int = 1000
    raw: dict[str, Any] = field(default_factory=dict)


def load_local_settings(root: Path, environ: Mapping[str, str], path: Path | None = None) -> LocalSettings:
    """Read ``path``, else local.settings.json, else local.settings.json.example; the environment wins.

    Raises ConfigError when the file is missing (given ``path``), is not valid JSON or has non-string values.
    """
    source: Path | None = None
    values: dict[str, str] = {}
    port: int | None = None
    if path is not None and not path.is_file():
        raise ConfigError(f"settings file {path} does not exist")
    for candidate in [path] if path else [root / "local.settings.json", root / "local.settings.json.example"]:
        if candidate.is_file():
            source = candidate
            break
    if source is not None:
        try:
            document = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {source}: {exc}") from exc
        raw_values = document.get("Values", {}) if isinstance(document, dict) else {}
        if not isinstance(raw_values, dict):
            raise ConfigError(f"{source}: 'Values' must be an object")
        for key, value in raw_values.items():
            if not isinstance(value, str | int | float | bool):
                raise ConfigError(f"{source}: setting {key!r} must be a string")
            values[str(key)] = _as_setting(value)
        host = document.get("Host", {}) if isinstance(document, dict) else {}
        if isinstance(host, dict) and isinstance(host.get("LocalHttpPort"), int):
            port = int(host["LocalHttpPort"])
    merged = dict(values)
    for key in values:
        if key in environ:
            merged[key] = environ[key]
    return LocalSettings(values=merged, source=source, local_http_port=port)


def _as_setting(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def export_settings(settings: LocalSettings, environ: MutableMapping[str, str]) -> None:
    """Put every setting into the environment without overriding variables that are already set."""
    for key, value in settings.values.items():
        environ.setdefault(key, value)


def resolve_setting_refs(text: str, environ: Mapping[str, str]) -> str:
    """Replace each %NAME% with the app setting NAME, as the host does for binding expressions.

    Raises ConfigError naming the setting when it is not defined.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise ConfigError(f"binding expression %{name}% refers to an app setting that is not defined")
        return environ[name]

    return _SETTING_REF.sub(replace, text)


def load_host_config(path: Path) -> HostConfig:
    """Read host.json (absent means defaults). Raises ConfigError on invalid JSON or values."""
    if not path.is_file():
        return HostConfig()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    extensions = raw.get("extensions") or {}
    http = extensions.get("http") or {}
    bus = extensions.get("serviceBus") or {}
    defaults = HostConfig()
    prefix = http.get("routePrefix", defaults.route_prefix)
    if not isinstance(prefix, str):
        raise ConfigError("host.json extensions.http.routePrefix must be a string")
    calls = bus.get("maxConcurrentCalls", defaults.max_concurrent_calls)
    if not isinstance(calls, int) or calls < 1:
        raise ConfigError("host.json extensions.serviceBus.maxConcurrentCalls must be a positive integer")
    batch_size = bus.get("maxMessageBatchSize", defaults.max_message_batch_size)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigError("host.json extensions.serviceBus.maxMessageBatchSize must be a positive integer")
    renewal = bus.get("maxAutoLockRenewalDuration")
    renewal_seconds = defaults.max_auto_lock_renewal if renewal is None else _timespan_seconds(str(renewal))
    return HostConfig(
        route_prefix=prefix.strip("/"),
        max_concurrent_calls=calls,
        max_auto_lock_renewal=renewal_seconds,
        max_message_batch_size=batch_size,
        raw=raw,
    )


_TIMESPAN = re.compile(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$")


def _timespan_seconds(text: str) -> float:
    """A .NET TimeSpan ("hh:mm:ss[.fff]", "d.hh:mm:ss"); negative means unbounded."""
    match = _TIMESPAN.match(text.strip())
    if not match:
        raise ConfigError(f"not a TimeSpan: {text!r}")
    sign, days, hours, minutes, seconds, fraction = match.groups()
    if sign:
        return float("inf")
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    return total + (float(f"0.{fraction}") if fraction else 0.0)
