"""HTTP route templates as the Functions host reads them (ASP.NET Core syntax): parse, order, match.

Supported: literal segments (matched case-insensitively), ``{name}``, ``{name?}``, ``{name=default}``,
``{*rest}``/``{**rest}`` catch-alls, and the constraints int, long, bool, guid, alpha, float, double, decimal,
datetime, min(n), max(n), range(a,b), minlength(n), maxlength(n), length(n), length(a,b), regex(...), required.
An unknown constraint is refused when the route is compiled, so a route never matches differently by accident.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar

from shared.domain.errors import ConfigError

__all__ = ["RouteMatch", "RouteTable", "RouteTemplate", "compile_route"]

T = TypeVar("T")
_PARAM = re.compile(r"\{([^{}]*)\}")
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


def _integer(bounds: tuple[int, int]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        return re.fullmatch(r"[+-]?\d+", value) is not None and bounds[0] <= int(value) <= bounds[1]

    return check


def _number(value: str) -> bool:
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", value) is not None


def _guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return re.fullmatch(r"\{?[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}\}?", value) is not None


def _datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


_SIMPLE: dict[str, Callable[[str], bool]] = {
    "int": _integer(_INT32),
    "long": _integer(_INT64),
    "bool": lambda v: v.lower() in ("true", "false"),
    "guid": _guid,
    "alpha": lambda v: re.fullmatch(r"[A-Za-z]+", v) is not None,
    "float": _number,
    "double": _number,
    "decimal": _number,
    "datetime": _datetime,
    "required": lambda v: v != "",
}


def _constraint(text: str, route: str) -> Callable[[str], bool]:
    name, _, args_text = text.partition("(")
    name = name.strip().lower()
    if not args_text:
        if name in _SIMPLE:
            return _SIMPLE[name]
        raise ConfigError(f"route {route!r}: unsupported constraint {text!r}")
    if not args_text.endswith(")"):
        raise ConfigError(f"route {route!r}: malformed constraint {text!r}")
    raw_args = args_text[:-1]
    if name == "regex":
        pattern = re.compile(raw_args, re.IGNORECASE)
        return lambda v: pattern.search(v) is not None
    try:
        args = [int(a) for a in raw_args.split(",")]
    except ValueError as exc:
        raise ConfigError(f"route {route!r}: constraint {text!r} needs integer arguments") from exc
    is_long = _integer(_INT64)
    if name == "min" and len(args) == 1:
        return lambda v: is_long(v) and int(v) >= args[0]
    if name == "max" and len(args) == 1:
        return lambda v: is_long(v) and int(v) <= args[0]
    if name == "range" and len(args) == 2:
        return lambda v: is_long(v) and args[0] <= int(v) <= args[1]
    if name == "minlength" and len(args) == 1:
        return lambda v: len(v) >= args[0]
    if name == "maxlength" and len(args) == 1:
        return lambda v: len(v) <= args[0]
    if name == "length" and len(args) == 1:
        return lambda v: len(v) == args[0]
    if name == "length" and len(args) == 2:
        return lambda v: args[0] <= len(v) <= args[1]
    raise ConfigError(f"route {route!r}: unsupported constraint {text!r}")


@dataclass(frozen=True)
class _Param:
    name: str
    group: str
    checks: tuple[Callable[[str], bool], ...]
    optional: bool
    default: str | None
    catch_all: bool


@dataclass(frozen=True)
class RouteTemplate:
    """A compiled route template; ``precedence`` sorts more specific templates first."""

    template: str
    regex: re.Pattern[str]
    params: tuple[_Param, ...]
    precedence: tuple[int, ...]

    def match(self, path: str) -> dict[str, str] | None:
        """Route values for a path relative to the route prefix (no leading slash), or None."""
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        values: dict[str, str] = {}
        for param in self.params:
            value = found.group(param.group)
            if value is None or value == "":
                if param.default is not None:
                    values[param.name] = param.default
                continue
            if not all(check(value) for check in param.checks):
                return None
            values[param.name] = value
        return values


def compile_route(template: str) -> RouteTemplate:
    """Compile a route template. Raises ConfigError for syntax or constraints the dev host cannot honour."""
    text = template.strip().strip("/")
    if text.startswith("~"):
        raise ConfigError(f"route {template!r}: '~' routes are not supported")
    pattern = ""
    params: list[_Param] = []
    precedence: list[int] = []
    segments = text.split("/") if text else []
    for index, segment in enumerate(segments):
        separator = "/" if index else ""
        whole = _PARAM.fullmatch(segment)
        if whole:
            param = _parse_param(whole.group(1), len(params), template)
            params.append(param)
            last = index == len(segments) - 1
            if param.catch_all and not last:
                raise ConfigError(f"route {template!r}: a catch-all parameter must be the last segment")
            inner = ".*" if param.catch_all else "[^/]+"
            if param.optional or param.catch_all:
                if not last:
                    raise ConfigError(f"route {template!r}: only the last segment may be optional")
                pattern += f"(?:{separator}(?P<{param.group}>{inner}))?"
            else:
                pattern += f"{separator}(?P<{param.group}>{inner})"
            precedence.append(5 if param.catch_all else 3 if param.checks else 4)
            continue
        if "{" not in segment and "}" not in segment:
            pattern += separator + re.escape(segment)
            precedence.append(1)
            continue
        pattern += separator
        position = 0
        for found in _PARAM.finditer(segment):
            pattern += re.escape(segment[position : found.start()])
            param = _parse_param(found.group(1), len(params), template)
            if param.catch_all or param.optional:
                raise ConfigError(f"route {template!r}: complex segments cannot hold optional or catch-all parameters")
            params.append(param)
            pattern += f"(?P<{param.group}>[^/]+?)"
            position = found.end()
        rest = segment[position:]
        if "{" in rest or "}" in rest:
            raise ConfigError(f"route {template!r}: unbalanced braces in segment {segment!r}")
        pattern += re.escape(rest)
        precedence.append(2)
    names = [p.name.lower() for p in params]
    if len(set(names)) != len(names):
        raise ConfigError(f"route {template!r}: parameter names must be unique")
    return RouteTemplate(
        template=template,
        regex=re.compile(pattern, re.IGNORECASE | re.DOTALL),
        params=tuple(params),
        precedence=(*precedence, 6),
    )


def _parse_param(body: str, index: int, route: str) -> _Param:
    catch_all = body.startswith("*")
    body = body.lstrip("*")
    optional = body.endswith("?")
    body = body.rstrip("?")
    name, _, default = body.partition("=")
    name, *constraints = name.split(":")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ConfigError(f"route {route!r}: invalid parameter name {name!r}")
    checks = tuple(_constraint(c, route) for c in _split_constraints(":".join(constraints)))
    return _Param(
        name=name,
        group=f"p{index}",
        checks=checks,
        optional=optional or bool(default),
        default=default or None,
        catch_all=catch_all,
    )


def _split_constraints(text: str) -> list[str]:
    """Split on ':' outside parentheses (regex constraints may contain ':')."""
    parts: list[str] = []
    depth = 0
    current = ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == ":" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current:
        parts.append(current)
    return parts


@dataclass(frozen=True)
class RouteMatch(Generic[T]):
    target: T
    route_params: dict[str, str]


@dataclass
class RouteTable(Generic[T]):
    """Routes in precedence order; ``methods`` of None means any method."""

    _entries: list[tuple[RouteTemplate, frozenset[str] | None, T]] = field(default_factory=list)

    def add(self, template: str, methods: Sequence[str] | None, target: T) -> None:
        """Raises ConfigError for an invalid template."""
        compiled = compile_route(template)
        allowed = frozenset(m.upper() for m in methods) if methods else None
        self._entries.append((compiled, allowed, target))
        self._entries.sort(key=lambda entry: entry[0].precedence)

    def match(self, method: str, path: str) -> RouteMatch[T] | None:
        """The first route matching the path and method (path relative to the prefix)."""
        for template, methods, target in self._entries:
            if methods is not None and method.upper() not in methods:
                continue
            values = template.match(path.strip("/"))
            if values is not None:
                return RouteMatch(target=target, route_params=values)
        return None

    def allowed_methods(self, path: str) -> set[str]:
        """Methods that some route accepts for this path (empty: no route matches the path at all)."""
        allowed: set[str] = set()
        for template, methods, _target in self._entries:
            if template.match(path.strip("/")) is not None:
                allowed |= set(methods) if methods is not None else {"*"}
        return allowed
