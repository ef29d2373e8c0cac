"""Links in event data checked against an allowlist of URL prefixes: who may make a phone open what.

A value is a link when its field is named like one (``…Url``, ``…Uri``, ``…Link``, ``…Href``, and the plurals for
lists) or, in any other text, wherever ``scheme://`` appears. A link is allowed when it parses as an absolute URL
without user info, white space, control characters or backslashes, and one prefix has the same scheme, host and
port and a path that the link's path starts with (no ``.``/``..`` segments, which could climb out of it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

from shared.domain.errors import FieldError

__all__ = ["link_allowed", "link_problems"]

_LINK_FIELD = re.compile(r"(?i).*(url|uri|link|href)s?")
_EMBEDDED = re.compile(r"(?i)[a-z][a-z0-9+.\-]*://[^\s<>\"']*")
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f\\]")


@dataclass(frozen=True)
class _Prefix:
    scheme: str
    host: str
    port: int | None
    path: str

    @classmethod
    def parse(cls, prefix: str) -> _Prefix:
        parts = _split(prefix)
        if parts is None:
            raise ValueError(f"not an absolute URL prefix: {prefix!r}")
        return cls(parts.scheme.lower(), (parts.hostname or "").lower(), parts.port, parts.path)

    def admits(self, parts: SplitResult) -> bool:
        if (parts.scheme.lower(), (parts.hostname or "").lower(), parts.port) != (self.scheme, self.host, self.port):
            return False
        if self.path in ("", "/"):
            return True
        path = parts.path or "/"
        if self.path.endswith("/"):
            return path.startswith(self.path)
        return path == self.path or path.startswith(self.path + "/")


def _split(value: str) -> SplitResult | None:
    """The URL's parts, or None when it is not an absolute URL we would ever let a phone open."""
    if not value or _UNSAFE.search(value):
        return None
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc or "@" in parts.netloc or not parts.hostname:
        return None
    segments = unquote(parts.path).split("/")
    if "." in segments or ".." in segments:
        return None
    return parts


def link_allowed(value: str, allowlist: Sequence[str]) -> bool:
    """Whether ``value`` is an absolute URL under one of the ``allowlist`` prefixes."""
    parts = _split(value)
    return parts is not None and any(_Prefix.parse(prefix).admits(parts) for prefix in allowlist)


def link_problems(data: Any, allowlist: Sequence[str], location: str = "/data") -> list[FieldError]:
    """One FieldError per link in ``data`` (parsed JSON) that ``allowlist`` does not allow."""
    return [
        FieldError(where, f"{_shown(link)} is not a link this system may send")
        for where, link in _links(data, location, link_field=False)
        if not link_allowed(link, allowlist)
    ]


def _links(value: Any, location: str, *, link_field: bool) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            name = str(key)
            yield from _links(item, f"{location}/{_escape(name)}", link_field=bool(_LINK_FIELD.fullmatch(name)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _links(item, f"{location}/{index}", link_field=link_field)
    elif isinstance(value, str):
        if link_field:
            if value:
                yield location, value
        else:
            for match in _EMBEDDED.finditer(value):
                yield location, match.group(0)


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _shown(link: str) -> str:
    """The link as an error message may show it: bounded, control characters escaped."""
    shortened = link if len(link) <= 120 else link[:117] + "..."
    return repr(shortened)
