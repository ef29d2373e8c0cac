"""JWT checks as Azure SignalR Service makes them: HS256 over the AccessKey's UTF-8 bytes, audience, expiry.

Client tokens carry ``aud`` = ``{scheme}://{host}/client/?hub={hub}``; REST tokens the request URL without query.
The .NET SDK drops the port from ``aud`` and sometimes keeps ``?api-version``, so audiences are compared on
scheme, host name, path and (for clients) the hub, not character by character.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt

__all__ = [
    "ENTRA_AUDIENCE",
    "TokenError",
    "bearer_token",
    "client_token",
    "user_id_of",
    "verify_client_token",
    "verify_rest_token",
]

# What an Entra token for the scope https://signalr.azure.com/.default carries as its audience. The stand-in cannot
# check Entra's signatures, so it accepts such a token signed with its own access key in its place: the app's
# managed-identity path runs against it with a test credential that issues those.
ENTRA_AUDIENCE = "https://signalr.azure.com"

_USER_CLAIMS = (
    "asrs.s.uid",
    "nameid",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
    "sub",
)


class TokenError(Exception):
    """The token is missing, malformed, badly signed, expired or for another audience (HTTP 401)."""


def bearer_token(headers: Mapping[str, str], query: Mapping[str, str] | None = None) -> str:
    """The token from ``Authorization: Bearer``, else from ``access_token`` in the query (browsers' WebSockets)."""
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if query is not None and query.get("access_token"):
        return str(query["access_token"])
    raise TokenError("no bearer token")


def _claims(token: str, key: str, leeway: float) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.encode("utf-8"),
            algorithms=["HS256"],
            options={"verify_aud": False, "require": ["exp", "aud"]},
            leeway=leeway,
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("the token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    return claims


def _audiences(claims: Mapping[str, Any]) -> list[str]:
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []


def _same_place(audience: str, scheme: str, host: str, path: str) -> bool:
    parts = urlsplit(audience)
    return (
        parts.scheme.lower() == scheme.lower()
        and (parts.hostname or "").lower() == host.lower()
        and unquote(parts.path).rstrip("/") == unquote(path).rstrip("/")
    )


def verify_client_token(token: str, key: str, *, scheme: str, host: str, hub: str, leeway: float) -> dict[str, Any]:
    """The claims of a client access token for ``hub`` on this service. Raises TokenError."""
    claims = _claims(token, key, leeway)
    for audience in _audiences(claims):
        hubs = parse_qs(urlsplit(audience).query).get("hub", [])
        if _same_place(audience, scheme, host, "/client") and [h.lower() for h in hubs] == [hub.lower()]:
            return claims
    raise TokenError(f"the token's audience is not {scheme}://{host}/client/?hub={hub.lower()}")


def verify_rest_token(token: str, key: str, *, scheme: str, host: str, path: str, leeway: float) -> dict[str, Any]:
    """The claims of a server (REST API) token for the request at ``path``. Raises TokenError."""
    claims = _claims(token, key, leeway)
    audiences = _audiences(claims)
    if ENTRA_AUDIENCE in audiences or any(_same_place(audience, scheme, host, path) for audience in audiences):
        return claims
    raise TokenError(f"the token's audience is not {scheme}://{host}{path}")


def client_token(key: str, *, scheme: str, host: str, hub: str, user_id: str | None, lifetime: int) -> str:
    """A client access token as the service issues it (``:generateToken``): ``aud`` without the port."""
    now = int(time.time())
    claims: dict[str, Any] = {"aud": f"{scheme}://{host}/client/?hub={hub.lower()}", "iat": now, "exp": now + lifetime}
    if user_id:
        claims["asrs.s.uid"] = user_id
    return jwt.encode(claims, key.encode("utf-8"), algorithm="HS256")


def user_id_of(claims: Mapping[str, Any]) -> str | None:
    """The user a client token names: ``asrs.s.uid`` (SDK and Functions), then ``nameid``, then ``sub``."""
    for claim in _USER_CLAIMS:
        value = claims.get(claim)
        if isinstance(value, str) and value:
            return value
    return None
