"""RealtimeGateway over Azure SignalR Service's data-plane REST API (2022-06-01), with httpx and PyJWT.

Why not the Functions SignalR bindings: Python v2 has no typed decorators for them, the output binding cannot ask
whether a user is connected (presence is a HEAD request), and a binding that fails fails the whole invocation,
where the app needs "SignalR down or slow: push instead" (docs/architecture.md). No retries: the push is the
fallback.

Two ways to authenticate, as the service offers them: with the managed identity (Azure: an Entra token for
``https://signalr.azure.com/.default``, the role "SignalR REST API Owner", client tokens from the 2023-07-01
``:generateToken`` call, local keys disabled), or with an AccessKey connection string (the local stand-in: HS256
over the key's UTF-8 bytes, as the service checks them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import jwt
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ClientAuthenticationError

from shared.domain.errors import ConfigError, UpstreamError, UpstreamUnavailableError
from shared.ports import ClientConnection

__all__ = ["API_VERSION", "ENTRA_SCOPE", "SignalRConnection", "SignalRGateway", "parse_connection_string"]

API_VERSION = "2022-06-01"
ISSUE_API_VERSION = "2023-07-01"  # the first version with :generateToken
ENTRA_SCOPE = "https://signalr.azure.com/.default"
CLIENT_TOKEN_LIFETIME = 3600  # seconds; the client negotiates again when it reconnects
_SERVER_TOKEN_LIFETIME = 300
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class SignalRConnection:
    """A parsed ``Endpoint=…;AccessKey=…;Version=1.0;[Port=…;][ClientEndpoint=…;]`` connection string."""

    endpoint: str  # scheme://host[:port], no trailing slash
    access_key: str
    client_endpoint: str

    def __repr__(self) -> str:
        return f"SignalRConnection(endpoint={self.endpoint!r})"


def parse_connection_string(text: str) -> SignalRConnection:
    """Parse an AccessKey connection string (keys case-insensitive). Raises ConfigError naming what is wrong."""
    fields: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            fields[key.strip().lower()] = value.strip()
    endpoint, key = fields.get("endpoint", ""), fields.get("accesskey", "")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or not key:
        raise ConfigError("the SignalR connection string needs Endpoint=http(s)://… and AccessKey=…")
    port = fields.get("port")
    if port is not None and not port.isdigit():
        raise ConfigError("the SignalR connection string's Port must be a number")
    base = f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else f":{parts.port}" if parts.port else "")
    client = fields.get("clientendpoint", "").rstrip("/") or base
    return SignalRConnection(endpoint=base, access_key=key, client_endpoint=client)


def _without_port(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{parts.path}"


class SignalRGateway:
    """``shared.ports.RealtimeGateway`` for one hub on one service, over an httpx.AsyncClient (owned by the caller).

    Build it with ``from_connection_string`` (AccessKey) or ``with_identity`` (an Entra credential).
    """

    def __init__(
        self,
        connection: SignalRConnection,
        hub: str,
        http: httpx.AsyncClient,
        credential: AsyncTokenCredential | None = None,
    ) -> None:
        if not connection.access_key and credential is None:
            raise ConfigError("SignalR needs an access key or a credential")
        self._connection = connection
        self._hub = hub.lower()
        self._http = http
        self._credential = credential

    @classmethod
    def from_connection_string(cls, text: str, hub: str, http: httpx.AsyncClient) -> SignalRGateway:
        """Raises ConfigError for a connection string without Endpoint or AccessKey."""
        return cls(parse_connection_string(text), hub, http)

    @classmethod
    def with_identity(
        cls, endpoint: str, credential: AsyncTokenCredential, hub: str, http: httpx.AsyncClient
    ) -> SignalRGateway:
        """Raises ConfigError for an endpoint that is not an http(s) URL."""
        parts = urlsplit(endpoint.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("PUSH_SIGNALR_ENDPOINT must be the service's URL, https://<name>.service.signalr.net")
        base = f"{parts.scheme}://{parts.netloc}"
        return cls(SignalRConnection(endpoint=base, access_key="", client_endpoint=base), hub, http, credential)

    @property
    def client_origin(self) -> str:
        parts = urlsplit(self._connection.client_endpoint)
        return f"{parts.scheme}://{parts.netloc}"

    async def client_connection(self, user_id: str) -> ClientConnection:
        """``url`` keeps the port; ``aud`` drops it, as the service's SDK does. With an identity, the service signs
        the token (``:generateToken``). Raises UpstreamUnavailableError or UpstreamError in that case."""
        url = f"{self._connection.client_endpoint}/client/?hub={self._hub}"
        if self._credential is not None:
            return ClientConnection(url=url, access_token=await self._generated_token(user_id))
        now = int(time.time())
        claims = {
            "aud": _without_port(f"{self._connection.client_endpoint}/client/") + f"?hub={self._hub}",
            "iat": now,
            "nbf": now,
            "exp": now + CLIENT_TOKEN_LIFETIME,
            "asrs.s.uid": user_id,
            "nameid": user_id,
        }
        return ClientConnection(url=url, access_token=self._sign(claims))

    async def is_connected(self, user_id: str) -> bool:
        """HEAD users/{user}: 200 connected, 404 not. Raises UpstreamUnavailableError or UpstreamError."""
        response = await self._request("HEAD", f"users/{quote(user_id, safe='')}")
        if response.status_code == 404:
            return False
        self._check(response, "check presence")
        return True

    async def send_to_user(self, user_id: str, target: str, arguments: Sequence[Any]) -> None:
        """POST users/{user}/:send (202). Raises UpstreamUnavailableError or UpstreamError."""
        body = {"target": target, "arguments": list(arguments)}
        response = await self._request("POST", f"users/{quote(user_id, safe='')}/:send", json=body)
        self._check(response, "send to a user")

    async def _generated_token(self, user_id: str) -> str:
        minutes = str(CLIENT_TOKEN_LIFETIME // 60)
        response = await self._request(
            "POST", ":generateToken", api_version=ISSUE_API_VERSION, userId=user_id, minutesToExpire=minutes
        )
        self._check(response, "generate a client token")
        try:
            return str(response.json()["token"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UpstreamError("SignalR Service answered generateToken without a token") from exc

    async def _server_token(self, url: str) -> str:
        if self._credential is None:
            now = int(time.time())
            return self._sign({"aud": url, "iat": now, "exp": now + _SERVER_TOKEN_LIFETIME})
        try:
            return (await self._credential.get_token(ENTRA_SCOPE)).token
        except ClientAuthenticationError as exc:
            raise UpstreamUnavailableError(f"no Entra token for SignalR ({type(exc).__name__})") from exc

    async def _request(
        self, method: str, path: str, *, api_version: str = API_VERSION, json: Any = None, **query: str
    ) -> httpx.Response:
        url = f"{self._connection.endpoint}/api/hubs/{self._hub}/{path}"
        token = await self._server_token(url)
        try:
            return await self._http.request(
                method,
                url,
                params={"api-version": api_version, **query},
                headers={"Authorization": f"Bearer {token}"},
                json=json,
            )
        except httpx.TimeoutException as exc:
            raise UpstreamUnavailableError(f"SignalR Service did not answer in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailableError(f"SignalR Service is unreachable ({type(exc).__name__})") from exc

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._connection.access_key.encode("utf-8"), algorithm="HS256")

    @staticmethod
    def _check(response: httpx.Response, action: str) -> None:
        if response.is_success:
            return
        if response.status_code in _TRANSIENT_STATUS:
            raise UpstreamUnavailableError(f"SignalR Service answered {response.status_code} to {action}")
        raise UpstreamError(f"SignalR Service refused to {action}: {response.status_code}")
