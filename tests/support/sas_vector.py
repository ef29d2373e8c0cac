"""The NH-REST SAS test vector (§1.3) and an independent reference signature, shared by the client's tests and the
emulator's."""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["KEY", "NAMESPACE", "RULE", "VECTOR", "fields_of", "reference_signature"]

KEY = "dGVzdGtleXRlc3RrZXl0ZXN0a2V5dGVzdGtleTEyMzQ="
RULE = "DefaultFullSharedAccessSignature"
NAMESPACE = "https://myns.servicebus.windows.net/"
VECTOR = (
    "SharedAccessSignature sr=https%3A%2F%2Fmyns.servicebus.windows.net%2F"
    "&sig=S3OV4oTDIVFgUatgTvBBJbP9%2F9uNyHOumy7QHrBcN4E%3D&se=1700000000&skn=DefaultFullSharedAccessSignature"
)


def reference_signature(sr: str, se: int, key: str) -> str:
    """Computed here with hmac directly, independently of the modules under test."""
    digest = hmac.new(key.encode("utf-8"), f"{sr}\n{se}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def fields_of(token: str) -> dict[str, str]:
    """A token's fields (sr, sig, se, skn) as they are written, still URL-encoded."""
    _, _, rest = token.partition(" ")
    return dict(part.split("=", 1) for part in rest.split("&"))
