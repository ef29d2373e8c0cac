"""Links in event data checked against an allowlist of URL prefixes: who may make a phone open what.

A field holds a link when it is named like one (``…Url``, ``…Uri``, ``…Link``, ``…Href``, and the plurals); other
text may hold no address (``scheme://``) at all (shared.domain.catalog.data_rules applies both). A link is allowed
when it parses as an absolute URL without user info, white space, control characters or backslashes, and one
prefix has the same scheme, host and port and a path that the link's path starts with (no ``.``/``..`` segments,
which could climb out of it). ``link_pattern`` states a subset of that as one regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

__all__ = ["ADDRESS_PATTERN", "is_link_field", "link_allowed", "link_pattern"]

_LINK_FIELD = re.compile(r"(?i).*(url|uri|link|href)s?")
# An address anywhere in a text: a URI scheme and "://" (an ECMA-262 and Python pattern alike).
ADDRESS_PATTERN = "[A-Za-z][A-Za-z0-9+.-]*://"
# Characters of a URL's path segment, query and fragment (RFC 3986 unreserved, sub-delims, ":" and "@"); "%" only
# after the path, so that no escaped "." can make a dot segment.
_SEGMENT_CHAR = "[-A-Za-z0-9_~!$&'()*+,;=:@.]"
_SEGMENT_NOT_DOT = "[-A-Za-z0-9_~!$&'()*+,;=:@]"
_QUERY_CHARS = "[-A-Za-z0-9._~!$&'()*+,;=:@/?%]*"
_FRAGMENT_CHARS = "[-A-Za-z0-9._~!$&'()*+,;=:@/?%#]*"
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


def is_link_field(name: str) -> bool:
    """Whether a data field holds a link by its name (``…Url``, ``…Uri``, ``…Link``, ``…Href``, plurals)."""
    return _LINK_FIELD.fullmatch(name) is not None


def link_pattern(allowlist: Sequence[str]) -> str | None:
    """A regular expression for links under one of the ``allowlist`` prefixes, every one of which link_allowed
    admits: the prefix's scheme, its host in any case, the prefix's path, then whole path segments (none of them
    ``.`` or ``..``), an optional query and fragment. None for an empty allowlist (no link is allowed)."""
    if not allowlist:
        return None
    segment = f"(?:{_SEGMENT_CHAR}*{_SEGMENT_NOT_DOT}{_SEGMENT_CHAR}*|\\.\\.\\.+)?"
    rest = f"(?:/{segment})*(?:\\?{_QUERY_CHARS})?(?:#{_FRAGMENT_CHARS})?"
    alternatives = []
    for prefix in allowlist:
        parts = _Prefix.parse(prefix)
        # The scheme as written in the prefix (lower case, as URL types require); the host in any case.
        origin = f"{re.escape(parts.scheme)}://{_any_case(parts.host)}" + (f":{parts.port}" if parts.port else "")
        if parts.path in ("", "/"):
            alternatives.append(f"{origin}{rest}")  # any path
        elif parts.path.endswith("/"):
            alternatives.append(f"{origin}{re.escape(parts.path)}{segment}{rest}")  # a path under the folder
        else:
            alternatives.append(f"{origin}{re.escape(parts.path)}{rest}")  # that path, or one under it
    return "^(?:" + "|".join(alternatives) + ")$"


def _any_case(text: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in text)


def link_allowed(value: str, allowlist: Sequence[str]) -> bool:
    """Whether ``value`` is an absolute URL under one of the ``allowlist`` prefixes."""
    parts = _split(value)
    return parts is not None and any(_Prefix.parse(prefix).admits(parts) for prefix in allowlist)
