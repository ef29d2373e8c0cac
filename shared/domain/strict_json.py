"""Strict JSON for input from outside: RFC 8259 text that every parser reads the same way, or a clear refusal.

Python's ``json.loads`` accepts more than that, and some of it fails later, far from the request that sent it.
``loads`` refuses, with ``UnsafeJsonError`` (a ``ValueError``, so existing ``except ValueError`` handlers see it):

- bytes that are not UTF-8 (``json.loads`` would also guess UTF-16 and UTF-32), and a leading byte-order mark;
- ``NaN``, ``Infinity`` and numbers a double cannot hold (``1e400`` would become ``inf`` and be written back as
  ``Infinity``, which is not JSON), unless numbers are read as ``Decimal`` (then the model checks the range);
  integers longer than Python's 4300-digit conversion limit;
- an object naming the same member twice: RFC 8259 leaves the meaning to the parser (Python keeps the last,
  others the first), so two systems could act on different values of one request;
- a string with a lone surrogate escape (``"\\ud800"``): it is not Unicode text and cannot be encoded as UTF-8
  again, so it would fail when stored, sent or echoed;
- nesting deeper than ``max_depth``: the C parser recurses once per level and raises ``RecursionError`` near
  1000 levels, and code that walks or re-encodes a value nested a little less deep can still run out of stack.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

__all__ = ["MAX_DEPTH", "UnsafeJsonError", "loads"]

MAX_DEPTH: Final = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


class UnsafeJsonError(ValueError):
    """The text is not JSON this application accepts; the message says why, without echoing the input."""


def loads(text: bytes | str, *, max_depth: int = MAX_DEPTH, decimal_numbers: bool = False) -> Any:
    """Decode ``text`` strictly. Numbers with a fraction or exponent become ``Decimal`` when ``decimal_numbers``.

    Raises UnsafeJsonError for anything listed in the module docstring and for text that is not JSON at all.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnsafeJsonError(f"the body is not UTF-8 (invalid byte at position {exc.start})") from None
    parse_float: Callable[[str], Any] = Decimal if decimal_numbers else _finite_float
    try:
        value = json.loads(
            text, parse_float=parse_float, parse_constant=_no_constant, object_pairs_hook=_object_without_duplicates
        )
    except RecursionError:
        raise UnsafeJsonError(f"JSON nested more than {max_depth} levels deep is not accepted") from None
    except UnsafeJsonError:
        raise
    except ValueError as exc:  # JSONDecodeError, or int() refusing a number over its digit limit
        raise UnsafeJsonError(_reason(exc)) from None
    _check_depth_and_strings(value, max_depth)
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise UnsafeJsonError(f"the number {text[:20]}{'...' if len(text) > 20 else ''} is too large")
    return value


def _no_constant(name: str) -> Any:
    raise UnsafeJsonError(f"{name} is not a JSON value")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise UnsafeJsonError(f"the member name {_shown(name)} appears twice in one object")
            seen.add(name)
    return result


def _reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    return "a number in the body has too many digits"


def _shown(name: str) -> str:
    printable = name.isprintable() and not _SURROGATE.search(name)
    return repr(name[:40]) if printable else "(not printable)"


def _check_depth_and_strings(value: Any, max_depth: int) -> None:
    """Walk the decoded value without recursion: depth within ``max_depth``, no string with a lone surrogate."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise UnsafeJsonError("a string in the body holds a lone surrogate escape (not Unicode text)")
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise UnsafeJsonError(f"JSON nested more than {max_depth} levels deep is not accepted")
            children = item.items() if isinstance(item, dict) else ((None, child) for child in item)
            for key, child in children:
                if key is not None and _SURROGATE.search(key):
                    raise UnsafeJsonError("a member name in the body holds a lone surrogate escape")
                pending.append((child, depth + 1))
