"""Subscription rules of the Config.json topology: correlation filters, and SQL filters (local/bus/sql_filter.py).

Rule actions are refused with ConfigError when the topology is loaded, so a filter never silently behaves
differently than in Azure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from local.bus.sql_filter import compile_sql
from shared.domain.errors import ConfigError

__all__ = ["FilterableMessage", "MessageFilter", "compile_rule"]


class FilterableMessage(Protocol):
    """What a filter reads of a message (the local bus's ReceivedMessage and the SDK's messages alike)."""

    @property
    def message_id(self) -> str: ...
    @property
    def subject(self) -> str | None: ...
    @property
    def content_type(self) -> str | None: ...
    @property
    def correlation_id(self) -> str | None: ...
    @property
    def application_properties(self) -> Mapping[str, Any]: ...


MessageFilter = Callable[[Any], bool]


_CORRELATION_FIELDS = {
    "ContentType": "content_type",
    "CorrelationId": "correlation_id",
    "Label": "subject",
    "MessageId": "message_id",
    "ReplyTo": "reply_to",
    "ReplyToSessionId": "reply_to_session_id",
    "SessionId": "session_id",
    "To": "to",
}


def compile_rule(rule: Any, where: str) -> MessageFilter:
    """Compile one rule of the emulator Config.json schema. Raises ConfigError for what is not supported."""
    name = rule.get("Name", "?") if isinstance(rule, dict) else "?"
    props = rule.get("Properties") if isinstance(rule, dict) else None
    if not isinstance(props, dict):
        raise ConfigError(f"{where}: rule {name!r} has no Properties")
    action = props.get("Action")
    if action and (not isinstance(action, dict) or action.get("SqlExpression")):
        raise ConfigError(f"{where}: rule {name!r} has an action; rule actions are not supported by the local bus")
    kind = str(props.get("FilterType", "")).lower()
    if kind == "correlation":
        return _correlation(props.get("CorrelationFilter") or {}, f"{where}: rule {name!r}")
    if kind == "sql":
        expression = (props.get("SqlFilter") or {}).get("SqlExpression")
        if not isinstance(expression, str) or not expression.strip():
            raise ConfigError(f"{where}: rule {name!r} needs SqlFilter.SqlExpression")
        try:
            return compile_sql(expression)
        except ConfigError as exc:
            raise ConfigError(f"{where}: rule {name!r}: {exc}") from exc
    raise ConfigError(f"{where}: rule {name!r} has FilterType {props.get('FilterType')!r}; use Correlation or Sql")


def _correlation(spec: dict[str, Any], where: str) -> MessageFilter:
    expected: list[tuple[str, Any]] = []
    for key, value in spec.items():
        if key == "Properties":
            continue
        if key not in _CORRELATION_FIELDS:
            raise ConfigError(f"{where}: unknown correlation filter field {key!r}")
        expected.append((_CORRELATION_FIELDS[key], value))
    properties = dict(spec.get("Properties") or {})
    if not expected and not properties:
        raise ConfigError(f"{where}: a correlation filter needs at least one field")

    def matches(message: Any) -> bool:
        for attribute, value in expected:
            if getattr(message, attribute, None) != value:
                return False
        props = message.application_properties
        return all(name in props and _equal(props[name], value) for name, value in properties.items())

    return matches


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return bool(actual == expected)
    return bool(type(actual) is type(expected) and actual == expected)
