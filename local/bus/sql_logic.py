"""SQL filter semantics (Service Bus SQL, a SQL-92 subset): three-valued logic, comparisons, LIKE patterns.

The parser (local/bus/sql_filter.py) compiles a filter into these evaluators. An evaluator returns True, False
or None, SQL's "unknown"; a property the message does not carry reads as MISSING, which is NULL to comparisons.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "MISSING",
    "Eval",
    "Value",
    "and_",
    "compare",
    "like_regex",
    "maybe_not",
    "not_",
    "or_",
    "present",
    "sql_equal",
]

Eval = Callable[[Any], bool | None]
Value = Callable[[Any], Any]

MISSING = object()


def present(value: Any) -> Any:
    """The value, or None (NULL) when the property is MISSING."""
    return None if value is MISSING else value


def like_regex(pattern: str, escape: str | None) -> str:
    """A regular expression for a LIKE pattern: ``%`` any run, ``_`` one character, ``escape`` quoting the next."""
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


def sql_equal(left: Any, right: Any) -> bool | None:
    """``=``: unknown with a NULL side; numbers compare across int and float; other types only with their own."""
    if left is None or right is None:
        return None
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    return False


def compare(left: Value, op: str, right: Value) -> Eval:
    """``left op right`` for = <> != < <= > >=; ordering only between two numbers or two strings."""

    def evaluate(message: Any) -> bool | None:
        a, b = present(left(message)), present(right(message))
        if op in ("=", "<>", "!="):
            equal = sql_equal(a, b)
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


def and_(left: Eval, right: Eval) -> Eval:
    """AND: False wins over unknown."""

    def evaluate(message: Any) -> bool | None:
        a, b = left(message), right(message)
        if a is False or b is False:
            return False
        return None if a is None or b is None else True

    return evaluate


def or_(left: Eval, right: Eval) -> Eval:
    """OR: True wins over unknown."""

    def evaluate(message: Any) -> bool | None:
        a, b = left(message), right(message)
        if a is True or b is True:
            return True
        return None if a is None or b is None else False

    return evaluate


def not_(inner: Eval) -> Eval:
    """NOT: unknown stays unknown."""

    def evaluate(message: Any) -> bool | None:
        value = inner(message)
        return None if value is None else not value

    return evaluate


def maybe_not(inner: Eval, negate: bool) -> Eval:
    """``inner``, negated when ``negate`` (NOT IN, NOT LIKE)."""
    return not_(inner) if negate else inner
