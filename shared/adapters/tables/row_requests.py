"""SignedTableRequests: the Tables REST API without the SDK, for the push path's most frequent requests.

The base of ``TableRowWriter`` (row writes) and ``TableRowReader`` (one row, one partition): a request signed with
Shared Key Lite for an account key (Azurite, connection strings) or a bearer token from the service client's
credential (managed identity), API version 2019-02-02, sent on one kept-alive aiohttp session, tried again after a
transient answer or a failed connection (up to three attempts in all), inside its own client span
(``shared.adapters.telemetry.tables_span``), so these requests stay dependencies in Application Insights as the SDK's
are.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
import urllib.request
from collections.abc import Callable, Mapping
from email.utils import formatdate
from typing import Protocol, Self, TypeVar
from urllib.parse import quote, urlsplit

import aiohttp
import yarl
from azure.core.credentials import AccessToken, AzureNamedKeyCredential
from azure.core.credentials_async import AsyncTokenCredential
from azure.data.tables.aio import TableServiceClient

from shared.adapters.tables.common import TRANSIENT_STATUS
from shared.adapters.telemetry import tables_span
from shared.domain.errors import ConfigError, UpstreamError, UpstreamUnavailableError

__all__ = ["API_VERSION", "STORAGE_SCOPE", "Answered", "SignedTableRequests", "quoted_key", "refused", "seconds"]

API_VERSION = "2019-02-02"
STORAGE_SCOPE = "https://storage.azure.com/.default"
_TOKEN_MARGIN = 300.0  # seconds before expiry a token is replaced
_ATTEMPTS = 3
_BACKOFF = (0.1, 0.4)  # seconds before the 2nd and 3rd attempt
_TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=5)


class Answered(Protocol):
    """What the retry loop and ``refused`` need of an answer, however its caller reads the rest."""

    @property
    def status(self) -> int: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def retry_after(self) -> float | None: ...


A = TypeVar("A", bound=Answered)


def seconds(header: str | None) -> float | None:
    """A Retry-After header's seconds, or None."""
    try:
        return float(header) if header is not None else None
    except ValueError:
        return None


def refused(operation: str, answer: Answered) -> UpstreamError:
    """The error for an answer that is neither success nor transient: the service's code, else the status."""
    return UpstreamError(f"Tables refused {operation}: {answer.error_code or answer.status}")


def quoted_key(value: str) -> str:
    """A key inside ``(PartitionKey='..',RowKey='..')``: OData doubles a quote inside a quoted key; the rest is
    percent-encoded, and sent exactly as signed."""
    return quote(value.replace("'", "''"), safe="")


class SignedTableRequests:
    """Signed requests to tables of one storage account. Opens its HTTP session on first use; ``close`` ends it."""

    def __init__(self, account_url: str, credential: AzureNamedKeyCredential | AsyncTokenCredential) -> None:
        parts = urlsplit(account_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("the Tables account URL must be an http(s) URL")
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._server = parts.hostname or parts.netloc
        self._account_path = parts.path.rstrip("/")  # "/devstoreaccount1" on Azurite, "" on Azure
        self._credential = credential
        self._token: AccessToken | None = None
        self._token_lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def for_service(cls, service: TableServiceClient) -> Self:
        """One for the account ``service`` (the process's TableServiceClient) talks to, with its credential.

        Raises ConfigError for a credential kind these requests cannot sign with (a SAS).
        """
        credential = service.credential
        if isinstance(credential, AzureNamedKeyCredential | AsyncTokenCredential):
            return cls(service.url, credential)
        raise ConfigError("Tables requests without the SDK need an account key or a token credential, not a SAS")

    def _table_path(self, table: str) -> str:
        return f"{self._account_path}/{quote(table, safe='')}"

    def _row_path_of(self, table: str, partition_key: str, row_key: str) -> str:
        return f"{self._table_path(table)}(PartitionKey='{quoted_key(partition_key)}',RowKey='{quoted_key(row_key)}')"

    async def _send(
        self,
        method: str,
        table: str,
        path: str,
        body: bytes,
        headers: Mapping[str, str],
        operation: str,
        read: Callable[[int, Mapping[str, str], bytes], A],
        query: str = "",
    ) -> A:
        """Send the request, again after a transient answer or a failed connection (up to three times in all).

        A request that went out and lost its answer may have been applied. Sending it again is still safe for each
        request made here: a read and an upsert are idempotent, and an insert or a conditional replace that meets its
        own earlier write is answered 409 or 412, which its caller takes for someone else's row (a claim then waits
        until it is stale, a finish finds its row already written, an inbox entry is found already added). A
        transaction is all or none, so the same holds for it whole. azure-core resends after a lost answer too.
        Raises UpstreamUnavailableError when no attempt got a definite answer.
        """
        with tables_span(operation, table, method, self._server) as span:
            failure: UpstreamUnavailableError | None = None
            for attempt in range(_ATTEMPTS):
                if attempt:
                    await asyncio.sleep(_BACKOFF[attempt - 1])
                try:
                    answer = await self._request(method, path, query, body, headers, read)
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    failure = UpstreamUnavailableError(
                        f"Tables unreachable during {operation}: {type(exc).__name__}", cause="storage"
                    )
                    continue
                span.set_attribute("http.response.status_code", answer.status)
                if answer.status not in TRANSIENT_STATUS:
                    return answer
                failure = UpstreamUnavailableError(
                    f"Tables answered {answer.status} during {operation}", answer.retry_after, cause="storage"
                )
            assert failure is not None
            raise failure

    async def _request(
        self,
        method: str,
        path: str,
        query: str,
        body: bytes,
        headers: Mapping[str, str],
        read: Callable[[int, Mapping[str, str], bytes], A],
    ) -> A:
        sent = {
            "x-ms-version": API_VERSION,
            "DataServiceVersion": "3.0",
            "MaxDataServiceVersion": "3.0;NetFx",
            **headers,
            **await self._authorization(path),  # Shared Key Lite signs the path without the query
        }
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=_TIMEOUT, trust_env=bool(urllib.request.getproxies()))
        url = yarl.URL(self._origin + path + (f"?{query}" if query else ""), encoded=True)
        async with self._session.request(method, url, data=body or None, headers=sent) as response:
            return read(response.status, response.headers, await response.read())

    async def _authorization(self, path: str) -> dict[str, str]:
        date = formatdate(usegmt=True)
        if isinstance(self._credential, AzureNamedKeyCredential):
            account, key = self._credential.named_key
            signed = hmac.new(base64.b64decode(key), f"{date}\n/{account}{path}".encode(), hashlib.sha256)
            signature = base64.b64encode(signed.digest()).decode()
            return {"x-ms-date": date, "Authorization": f"SharedKeyLite {account}:{signature}"}
        return {"x-ms-date": date, "Authorization": f"Bearer {await self._bearer()}"}

    async def _bearer(self) -> str:
        token = self._token
        if token is None or token.expires_on - time.time() < _TOKEN_MARGIN:
            async with self._token_lock:
                token = self._token
                if token is None or token.expires_on - time.time() < _TOKEN_MARGIN:
                    assert not isinstance(self._credential, AzureNamedKeyCredential)
                    token = self._token = await self._credential.get_token(STORAGE_SCOPE)
        return token.token

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
