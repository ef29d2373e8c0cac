"""SAS tokens as the service reads them (NH-REST §1.3): parse the header, verify the signature and the audience.

The client only signs (shared.notification_hubs.sas). The HMAC is recomputed here on its own, so a signing mistake
in the client fails here instead of being mirrored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from shared.domain.errors import FieldError
from shared.notification_hubs.errors import NhValidationError

__all__ = ["SasToken", "audience_covers", "parse_sas_token", "signature_matches"]

_SCHEME = "SharedAccessSignature"
_REQUIRED_FIELDS = ("sr", "sig", "se", "skn")
_SECONDS = re.compile(r"0|[1-9][0-9]{0,11}")
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


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
    digest = hmac.new(key.encode("utf-8"), f"{token.sr_raw}\n{token.se}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest), token.sig.encode("utf-8", "surrogatepass"))


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
