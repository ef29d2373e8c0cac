"""Subscription rule filters: correlation filters and a SQL-92 subset, compiled to predicates.

Supported SQL: comparisons (= <> != < <= > >=) between properties and constants, [NOT] IN, [NOT] LIKE with
ESCAPE, IS [NOT] NULL, EXISTS(prop), NOT/AND/OR with SQL three-valued logic, parentheses, TRUE/FALSE/NULL,
strings, integers and decimals; ``sys.<Name>`` for system properties, ``user.<name>``/bare names/``[name]`` for
application properties. Arithmetic, functions and rule actions are refused with ConfigError when the topology is
loaded, so a filter never silently behaves differently than in Azure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from shared.domain.errors import ConfigError

__all__ = ["FilterableMessage", "MessageFilter", "compile_rule", "compile_sql"]


class FilterableMessage(Protocol):
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

# sys.<name> (lower-cased) -> attribute of the message; other system properties are refused.
_SYSTEM_PROPERTIES = {
    "messageid": "message_id",
    "label": "subject",
    "subject": "subject",
    "contenttype": "content_type",
    "correlationid": "correlation_id",
    "to": "to",
    "replyto": "reply_to",
    "sessionid": "session_id",
    "replytosessionid": "reply_to_session_id",
}
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
_MISSING = object()


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


# ---------------------------------------------------------------------------------------------- SQL subset


@dataclass(frozen=True)
class _Token:
    kind: str  # "str", "num", "ident", "op", "kw", "eof"
    value: Any
    position: int


_KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ESCAPE", "EXISTS", "TRUE", "FALSE"}
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<ident>\[[^\]]+\]|[A-Za-z_][A-Za-z0-9_]*(?:\.(?:\[[^\]]+\]|[A-Za-z_][A-Za-z0-9_]*))?)"
    r"|(?P<op><>|!=|<=|>=|=|<|>|\(|\)|,)|(?P<bad>\S))"
)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            break
        position = match.end()
        start = match.start(match.lastgroup or 0)
        kind = match.lastgroup
        raw = match.group(kind or 0)
        if kind == "bad":
            raise ConfigError(f"unsupported character {raw!r} at position {start} in SQL filter {text!r}")
        if kind == "str":
            tokens.append(_Token("str", raw[1:-1].replace("''", "'"), start))
        elif kind == "num":
            tokens.append(_Token("num", float(raw) if any(c in raw for c in ".eE") else int(raw), start))
        elif kind == "ident" and raw.upper() in _KEYWORDS:
            tokens.append(_Token("kw", raw.upper(), start))
        else:
            tokens.append(_Token(kind or "op", raw, start))
    tokens.append(_Token("eof", None, len(text)))
    return tokens


# An evaluator returns True, False or None (SQL "unknown").
_Eval = Callable[[Any], bool | None]
_Value = Callable[[Any], Any]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def fail(self, what: str) -> ConfigError:
        token = self.tokens[self.index]
        return ConfigError(f"{what} at position {token.position} in SQL filter {self.text!r}")

    def peek(self, kind: str, value: Any = None) -> bool:
        token = self.tokens[self.index]
        return token.kind == kind and (value is None or token.value == value)

    def take(self, kind: str, value: Any = None) -> _Token:
        if not self.peek(kind, value):
            raise self.fail(f"expected {value or kind}")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> _Eval:
        predicate = self.or_expr()
        if not self.peek("eof"):
            raise self.fail("unsupported syntax (arithmetic and functions are not supported)")
        return predicate

    def or_expr(self) -> _Eval:
        left = self.and_expr()
        while self.peek("kw", "OR"):
            self.index += 1
            left = _or(left, self.and_expr())
        return left

    def and_expr(self) -> _Eval:
        left = self.not_expr()
        while self.peek("kw", "AND"):
            self.index += 1
            left = _and(left, self.not_expr())
        return left

    def not_expr(self) -> _Eval:
        if self.peek("kw", "NOT"):
            self.index += 1
            return _not(self.not_expr())
        return self.primary()

    def primary(self) -> _Eval:
        if self.peek("op", "("):
            self.index += 1
            inner = self.or_expr()
            self.take("op", ")")
            return inner
        if self.peek("kw", "EXISTS"):
            self.index += 1
            self.take("op", "(")
            getter = self.property()
            self.take("op", ")")
            return lambda message: getter(message) is not _MISSING
        left = self.value()
        if self.peek("kw", "IS"):
            self.index += 1
            negate = self.peek("kw", "NOT")
            if negate:
                self.index += 1
            self.take("kw", "NULL")
            return lambda message: (_present(left(message)) is None) != negate
        negate = self.peek("kw", "NOT")
        if negate:
            self.index += 1
        if self.peek("kw", "IN"):
            self.index += 1
            return _maybe_not(self.in_list(left), negate)
        if self.peek("kw", "LIKE"):
            self.index += 1
            return _maybe_not(self.like(left), negate)
        if negate:
            raise self.fail("expected IN or LIKE after NOT")
        token = self.tokens[self.index]
        if token.kind == "op" and token.value in ("=", "<>", "!=", "<", "<=", ">", ">="):
            self.index += 1
            return _compare(left, token.value, self.value())
        raise self.fail("expected a comparison")

    def in_list(self, left: _Value) -> _Eval:
        self.take("op", "(")
        options = [self.value()]
        while self.peek("op", ","):
            self.index += 1
            options.append(self.value())
        self.take("op", ")")

        def evaluate(message: Any) -> bool | None:
            actual = _present(left(message))
            if actual is None:
                return None
            return any(_sql_equal(actual, _present(option(message))) for option in options)

        return evaluate

    def like(self, left: _Value) -> _Eval:
        pattern = self.take("str").value
        escape: str | None = None
        if self.peek("kw", "ESCAPE"):
            self.index += 1
            escape = self.take("str").value
            if escape is None or len(escape) != 1:
                raise self.fail("ESCAPE needs one character")
        regex = re.compile(_like_regex(pattern, escape), re.DOTALL)

        def evaluate(message: Any) -> bool | None:
            actual = _present(left(message))
            if actual is None:
                return None
            return isinstance(actual, str) and regex.fullmatch(actual) is not None

        return evaluate

    def value(self) -> _Value:
        token = self.tokens[self.index]
        if token.kind in ("str", "num"):
            self.index += 1
            constant = token.value
            return lambda _message: constant
        if token.kind == "kw" and token.value in ("TRUE", "FALSE", "NULL"):
            self.index += 1
            literal = {"TRUE": True, "FALSE": False, "NULL": None}[token.value]
            return lambda _message: literal
        if token.kind == "ident":
            return self.property()
        raise self.fail("expected a property or a constant")

    def property(self) -> _Value:
        token = self.take("ident")
        raw: str = token.value
        scope, _, name = raw.partition(".") if "." in raw and not raw.startswith("[") else ("user", "", raw)
        name = name.strip("[]")
        if scope.lower() == "sys":
            attribute = _SYSTEM_PROPERTIES.get(name.lower())
            if attribute is None:
                raise self.fail(f"system property sys.{name} is not supported by the local bus")
            return lambda message: getattr(message, attribute, None)
        if scope.lower() != "user":
            raise self.fail(f"unknown scope {scope!r}")
        return lambda message: message.application_properties.get(name, _MISSING)


def _present(value: Any) -> Any:
    return None if value is _MISSING else value


def _like_regex(pattern: str, escape: str | None) -> str:
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if escape is not None and char == escape and index + 1 < len(pattern):
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return "".join(parts)


def _sql_equal(left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    return False


def _compare(left: _Value, op: str, right: _Value) -> _Eval:
    def evaluate(message: Any) -> bool | None:
        a, b = _present(left(message)), _present(right(message))
        if op in ("=", "<>", "!="):
            equal = _sql_equal(a, b)
            return equal if equal is None or op == "=" else not equal
        if a is None or b is None:
            return None
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
        if not numbers and not (isinstance(a, str) and isinstance(b, str)):
            return False
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)

    return evaluate


def _and(left: _Eval, right: _Eval) -> _Eval:
    def evaluate(message: Any) -> bool | None:
        a, b = left(message), right(message)
        if a is False or b is False:
            return False
        return None if a is None or b is None else True

    return evaluate


def _or(left: _Eval, right: _Eval) -> _Eval:
    def evaluate(message: Any) -> bool | None:
        a, b = left(message), right(message)
        if a is True or b is True:
            return True
        return None if a is None or b is None else False

    return evaluate


def _not(inner: _Eval) -> _Eval:
    def evaluate(message: Any) -> bool | None:
        value = inner(message)
        return None if value is None else not value

    return evaluate


def _maybe_not(inner: _Eval, negate: bool) -> _Eval:
    return _not(inner) if negate else inner


def compile_sql(expression: str) -> MessageFilter:
    """Compile a SQL filter expression; a message matches only when it evaluates to TRUE (not unknown).

    Raises ConfigError with the position of the first unsupported or malformed part.
    """
    evaluate = _Parser(expression).parse()
    return lambda message: evaluate(message) is True
