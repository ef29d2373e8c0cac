"""Shared Access Signature tokens as the client signs them (NH-REST §1.2); the service checks them (§1.3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import quote

from shared.notification_hubs.errors import NhConfigurationError

__all__ = ["SasTokenProvider", "sas_token"]

logger = logging.getLogger(__name__)

_SCHEME = "SharedAccessSignature"


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
