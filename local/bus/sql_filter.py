"""Subscription SQL filters: the supported subset of Service Bus SQL, tokenized and compiled to predicates.

Supported: comparisons (= <> != < <= > >=) between properties and constants, [NOT] IN, [NOT] LIKE with ESCAPE,
IS [NOT] NULL, EXISTS(prop), NOT/AND/OR with SQL three-valued logic (local/bus/sql_logic.py), parentheses,
TRUE/FALSE/NULL, strings, integers and decimals; ``sys.<Name>`` for system properties, ``user.<name>``/bare
names/``[name]`` for application properties. Arithmetic and functions are refused with ConfigError when the
topology is loaded, so a filter never silently behaves differently than in Azure.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.bus.sql_logic import (
    MISSING,
    Eval,
    Value,
    and_,
    compare,
    like_regex,
    maybe_not,
    not_,
    or_,
    present,
    sql_equal,
)
from shared.domain.errors import ConfigError

__all__ = ["compile_sql"]

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


class _Parser:
    """Recursive descent: or := and (OR and)*; and := not (AND not)*; not := NOT not | primary."""

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

    def parse(self) -> Eval:
        predicate = self.or_expr()
        if not self.peek("eof"):
            raise self.fail("unsupported syntax (arithmetic and functions are not supported)")
        return predicate

    def or_expr(self) -> Eval:
        left = self.and_expr()
        while self.peek("kw", "OR"):
            self.index += 1
            left = or_(left, self.and_expr())
        return left

    def and_expr(self) -> Eval:
        left = self.not_expr()
        while self.peek("kw", "AND"):
            self.index += 1
            left = and_(left, self.not_expr())
        return left

    def not_expr(self) -> Eval:
        if self.peek("kw", "NOT"):
            self.index += 1
            return not_(self.not_expr())
        return self.primary()

    def primary(self) -> Eval:
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
            return lambda message: getter(message) is not MISSING
        left = self.value()
        if self.peek("kw", "IS"):
            self.index += 1
            negate = self.peek("kw", "NOT")
            if negate:
                self.index += 1
            self.take("kw", "NULL")
            return lambda message: (present(left(message)) is None) != negate
        negate = self.peek("kw", "NOT")
        if negate:
            self.index += 1
        if self.peek("kw", "IN"):
            self.index += 1
            return maybe_not(self.in_list(left), negate)
        if self.peek("kw", "LIKE"):
            self.index += 1
            return maybe_not(self.like(left), negate)
        if negate:
            raise self.fail("expected IN or LIKE after NOT")
        token = self.tokens[self.index]
        if token.kind == "op" and token.value in ("=", "<>", "!=", "<", "<=", ">", ">="):
            self.index += 1
            return compare(left, token.value, self.value())
        raise self.fail("expected a comparison")

    def in_list(self, left: Value) -> Eval:
        self.take("op", "(")
        options = [self.value()]
        while self.peek("op", ","):
            self.index += 1
            options.append(self.value())
        self.take("op", ")")

        def evaluate(message: Any) -> bool | None:
            actual = present(left(message))
            if actual is None:
                return None
            return any(sql_equal(actual, present(option(message))) for option in options)

        return evaluate

    def like(self, left: Value) -> Eval:
        pattern = self.take("str").value
        escape: str | None = None
        if self.peek("kw", "ESCAPE"):
            self.index += 1
            escape = self.take("str").value
            if escape is None or len(escape) != 1:
                raise self.fail("ESCAPE needs one character")
        regex = re.compile(like_regex(pattern, escape), re.DOTALL)

        def evaluate(message: Any) -> bool | None:
            actual = present(left(message))
            if actual is None:
                return None
            return isinstance(actual, str) and regex.fullmatch(actual) is not None

        return evaluate

    def value(self) -> Value:
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

    def property(self) -> Value:
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
        return lambda message: message.application_properties.get(name, MISSING)


def compile_sql(expression: str) -> Callable[[Any], bool]:
    """Compile a SQL filter expression; a message matches only when it evaluates to TRUE (not unknown).

    Raises ConfigError with the position of the first unsupported or malformed part.
    """
    evaluate = _Parser(expression).parse()
    return lambda message: evaluate(message) is True
