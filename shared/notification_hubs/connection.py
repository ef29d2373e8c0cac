"""Parse Notification Hubs connection strings as tolerantly as the JS SDK does (NH-REST §1.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from shared.notification_hubs.errors import NhConfigurationError

__all__ = ["NhConnection", "parse_connection_string"]

_ENDPOINT = "Endpoint"
_KEY_NAME = "SharedAccessKeyName"
_KEY = "SharedAccessKey"
_SCHEME_REWRITES = {"sb": "https", "https": "https", "http": "http"}


@dataclass(frozen=True)
class NhConnection:
    """Where a namespace lives and which shared access rule signs requests to it.

    ``base_url`` always ends with ``/``; ``key`` never appears in ``repr``.
    """

    base_url: str
    key_name: str
    key: str = field(repr=False)


def parse_connection_string(text: str) -> NhConnection:
    """Parse ``Endpoint=sb://…/;SharedAccessKeyName=…;SharedAccessKey=…``.

    Parts are split on ``;``, trimmed, empty parts skipped, and each split at its first ``=`` so base64
    padding survives. ``sb://`` becomes ``https://``; an ``http://`` endpoint stays http (emulators).

    Raises NhConfigurationError naming what is missing or malformed (never echoing the key).
    """
    parts = _split_parts(text)
    endpoint = parts.get(_ENDPOINT, "")
    key_name = parts.get(_KEY_NAME, "")
    key = parts.get(_KEY, "")
    if not endpoint:
        raise _error(_ENDPOINT, "the connection string has no Endpoint")
    if bool(key_name) != bool(key):
        missing = _KEY if key_name else _KEY_NAME
        raise _error(missing, f"{_KEY_NAME} and {_KEY} must be given together; {missing} is missing")
    if not key_name:
        raise _error(_KEY_NAME, f"the connection string needs {_KEY_NAME} and {_KEY} to sign requests")
    return NhConnection(base_url=_base_url(endpoint), key_name=key_name, key=key)


def _split_parts(text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for index, raw in enumerate(text.split(";")):
        part = raw.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep:
            # Never echo the part itself: it may be a key pasted without its name.
            raise _error(f"part {index + 1}", "this part has no '=' assignment")
        parts[name.strip()] = value.strip()
    return parts


def _base_url(endpoint: str) -> str:
    split = urlsplit(endpoint)
    scheme = _SCHEME_REWRITES.get(split.scheme.lower())
    if scheme is None:
        raise _error(_ENDPOINT, "Endpoint must start with sb://, https:// or http://")
    if not split.hostname:
        raise _error(_ENDPOINT, "Endpoint has no host name")
    if split.query or split.fragment:
        raise _error(_ENDPOINT, "Endpoint must not carry a query or fragment")
    try:
        split.port  # noqa: B018 - accessing the property validates the port number
    except ValueError as exc:
        raise _error(_ENDPOINT, "Endpoint has an invalid port") from exc
    path = split.path if split.path.endswith("/") else split.path + "/"
    return f"{scheme}://{split.netloc}{path}"


def _error(location: str, message: str) -> NhConfigurationError:
    return NhConfigurationError(f"invalid Notification Hubs connection string ({location}): {message}")
