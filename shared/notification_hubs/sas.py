"""Shared Access Signature tokens: signing for the client, parsing and checking for the emulator (NH-REST §1.2-1.3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import quote, unquote, urlsplit

from shared.domain.errors import FieldError
from shared.notification_hubs.errors import NhConfigurationError, NhValidationError

__all__ = [
    "SasToken",
    "SasTokenProvider",
    "audience_covers",
    "parse_sas_token",
    "sas_token",
    "signature_matches",
]

logger = logging.getLogger(__name__)

_SCHEME = "SharedAccessSignature"
_REQUIRED_FIELDS = ("sr", "sig", "se", "skn")
_SECONDS = re.compile(r"0|[1-9][0-9]{0,11}")
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def sas_token(audience: str, key_name: str, key: str, expiry: int) -> str:
    """Build an ``Authorization`` header value signed for ``audience`` until ``expiry`` (Unix seconds, UTC).

    The audience is lower-cased and fully percent-encoded (upper-case escapes); the HMAC-SHA256 runs over the
    encoded ``sr`` exactly as sent, keyed with the UTF-8 bytes of the key string (not base64-decoded).
    """
    sr = quote(audience.lower(), safe="")
    sig = _sign(sr, str(expiry), key)
    return f"{_SCHEME} sr={sr}&sig={quote(sig, safe='')}&se={expiry}&skn={quote(key_name, safe='')}"


def _sign(sr: str, se: str, key: str) -> str:
    digest = hmac.new(key.encode("utf-8"), f"{sr}\n{se}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class SasTokenProvider:
    """Issues tokens for one audience and reuses each until ``refresh_margin`` before it expires.

    Expiry is computed from ``clock()`` (Unix epoch seconds, i.e. UTC), never from local time.
    """

    def __init__(
        self,
        key_name: str,
        key: str,
        audience: str,
        *,
        lifetime: timedelta = timedelta(minutes=20),
        refresh_margin: timedelta = timedelta(minutes=2),
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Raises NhConfigurationError when the margin leaves no usable lifetime."""
        if refresh_margin < timedelta(0) or lifetime <= refresh_margin:
            raise NhConfigurationError("SAS token lifetime must be longer than its refresh margin")
        self._key_name = key_name
        self._key = key
        self._audience = audience
        self._lifetime = lifetime.total_seconds()
        self._margin = refresh_margin.total_seconds()
        self._clock = clock
        self._token: str | None = None
        self._expiry = 0

    def __repr__(self) -> str:
        return f"SasTokenProvider(key_name={self._key_name!r}, audience={self._audience!r})"

    def token(self) -> str:
        """Return a valid token, signing a new one when the cached one is within the margin of expiry."""
        now = self._clock()
        if self._token is None or now >= self._expiry - self._margin:
            self._expiry = math.floor(now + self._lifetime)
            self._token = sas_token(self._audience, self._key_name, self._key, self._expiry)
            logger.debug(
                "signed SAS token for %s (rule %s) expiring at %s", self._audience, self._key_name, self._expiry
            )
        return self._token


@dataclass(frozen=True)
class SasToken:
    """A parsed token. ``sr_raw`` is exactly as received (still percent-encoded); ``sig`` is URL-decoded."""

    sr_raw: str
    sig: str = field(repr=False)
    se: int
    skn: str


def parse_sas_token(header_value: str) -> SasToken:
    """Parse ``SharedAccessSignature sr=…&sig=…&se=…&skn=…`` (fields in any order).

    Raises NhValidationError saying which field is missing or malformed (never echoing the signature).
    """
    scheme, _, rest = header_value.strip().partition(" ")
    if scheme.lower() != _SCHEME.lower() or not rest.strip():
        raise _invalid("the Authorization header is not a SharedAccessSignature token")
    fields: dict[str, str] = {}
    for part in rest.strip().split("&"):
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep:
            raise _invalid("every token field must be written as name=value")
        if name in fields:
            raise _invalid(f"the token field '{name}' appears twice")
        fields[name] = value.strip()
    for name in _REQUIRED_FIELDS:
        if not fields.get(name):
            raise _invalid(f"the token has no '{name}' field")
    # Only canonical decimal seconds: the signature covers se as written, and we keep it as an int.
    if not _SECONDS.fullmatch(fields["se"]):
        raise _invalid("the token field 'se' must be whole seconds since the Unix epoch")
    return SasToken(sr_raw=fields["sr"], sig=unquote(fields["sig"]), se=int(fields["se"]), skn=unquote(fields["skn"]))


def signature_matches(token: SasToken, key: str) -> bool:
    """True when ``sig`` is the HMAC of the raw ``sr`` as received, so upper- and lower-case escapes both verify."""
    expected = _sign(token.sr_raw, str(token.se), key)
    return hmac.compare_digest(expected.encode("ascii"), token.sig.encode("utf-8", "surrogatepass"))


def audience_covers(token: SasToken, request_url: str) -> bool:
    """True when the token's audience is a path prefix of ``request_url``.

    The decoded ``sr`` is lower-cased and its scheme (``http``, ``https`` or ``sb``) dropped; it must then prefix
    the lower-cased host + path of the request at a ``/`` boundary (a trailing ``/`` on either side is ignored),
    or, when it contains a query, prefix host + path + query. Namespace-root, hub-root, full-path and
    full-path-with-query audiences all pass; ``/hub`` does not cover ``/hub2``.
    """
    audience = _without_scheme(unquote(token.sr_raw).lower())
    request = urlsplit(request_url.lower())
    target = _host(request.scheme, request.netloc) + (request.path or "/")
    if not audience or audience.startswith("/"):
        return False
    if "?" in audience:
        return f"{target}?{request.query}".startswith(audience)
    prefix = audience.rstrip("/")
    trimmed = target.rstrip("/")
    return trimmed == prefix or trimmed.startswith(prefix + "/")


def _without_scheme(audience: str) -> str:
    scheme, sep, rest = audience.partition("://")
    if not sep:
        return audience
    netloc, slash, path = rest.partition("/")
    return _host(scheme, netloc) + slash + path


def _host(scheme: str, netloc: str) -> str:
    host = netloc.rpartition("@")[2]
    default_port = _DEFAULT_PORTS.get("https" if scheme == "sb" else scheme)
    if default_port and host.endswith(default_port):
        host = host[: -len(default_port)]
    return host


def _invalid(message: str) -> NhValidationError:
    return NhValidationError(f"malformed SAS token: {message}", [FieldError(location="Authorization", message=message)])
