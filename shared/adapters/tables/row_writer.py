"""TableRowWriter: single-row writes through the Tables REST API directly, for the decision ledger and the delivery log.

Why not the SDK here: these are the push functions' most frequent requests. Every event makes a delivery-log claim
and finish, and the ledger writes two rows for every broadcast and three for every event addressed to a user.
Through azure-data-tables one such write costs the function about 0.7 ms of CPU (request building, the azure-core
pipeline, header parsing); this signed request costs under half of that (docs/architecture.md has the runs).
Reads, deletes, transactions and every other table keep the SDK. Each write makes its own client span
(``shared.adapters.telemetry.tables_span``), so these writes stay dependencies in Application Insights as the SDK's
requests are; a failed write reaches the caller as an UpstreamError.

The requests are the ones the service documents: Insert Entity (``POST {account}/{table}``, ``Prefer:
return-no-content``), Update Entity with ``If-Match`` and Insert Or Replace Entity (both ``PUT {account}/{table}
(PartitionKey='..',RowKey='..')``), each with a JSON body whose property types are annotated as the SDK annotates
them (so rows read back through the SDK as if it had written them), authorized with Shared Key Lite for an account
key (Azurite, connection strings) or a bearer token from the service client's credential (managed identity), API
version 2019-02-02.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import yarl
from azure.core.credentials import AccessToken, AzureNamedKeyCredential
from azure.core.credentials_async import AsyncTokenCredential
from azure.data.tables.aio import TableServiceClient

from shared.adapters.tables.common import TRANSIENT_STATUS
from shared.adapters.telemetry import tables_span
from shared.domain.errors import ConfigError, ConflictError, UpstreamError, UpstreamUnavailableError

__all__ = ["TableRowWriter", "entity_json"]

API_VERSION = "2019-02-02"
STORAGE_SCOPE = "https://storage.azure.com/.default"
_TOKEN_MARGIN = 300.0  # seconds before expiry a token is replaced
_ATTEMPTS = 3
_BACKOFF = (0.1, 0.4)  # seconds before the 2nd and 3rd attempt
_TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=5)
_INT32 = range(-(2**31), 2**31)


def entity_json(entity: Mapping[str, Any]) -> bytes:
    """The entity as the JSON body the service takes: Double and DateTime values annotated with their EDM type as
    the SDK does; None values left out. Raises TypeError for a value of another type, ValueError for a non-finite
    float or an integer beyond Int32."""
    body: dict[str, Any] = {}
    for name, value in entity.items():
        if value is None:
            continue
        if isinstance(value, str | bool):
            body[name] = value
        elif isinstance(value, int):
            if value not in _INT32:  # as the SDK, which takes a larger one only with an explicit EDM type
                raise ValueError(f"{name}: {value} is beyond Int32")
            body[name] = value
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"{name}: {value} is not a finite number")
            body[name], body[f"{name}@odata.type"] = value, "Edm.Double"
        elif isinstance(value, datetime):
            moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
            body[name], body[f"{name}@odata.type"] = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "Edm.DateTime"
        else:
            raise TypeError(f"{name}: {type(value).__name__} is not a property type this writer stores")
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    etag: str | None
    error_code: str | None
    retry_after: float | None


def _seconds(header: str | None) -> float | None:
    try:
        return float(header) if header is not None else None
    except ValueError:
        return None


def _refused(operation: str, answer: _Answer) -> UpstreamError:
    return UpstreamError(f"Tables refused {operation}: {answer.error_code or answer.status}")


def _key(value: str) -> str:
    # OData doubles a quote inside a quoted key; the rest is percent-encoded, and sent exactly as signed.
    return quote(value.replace("'", "''"), safe="")


class TableRowWriter:
    """Writes single rows into tables of one storage account. Raises UpstreamUnavailableError when Tables is
    unreachable, times out or answers 408/429/5xx (after up to three attempts), UpstreamError when it refuses a write.

    Opens its HTTP session on first use; ``close`` ends it.
    """

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
    def for_service(cls, service: TableServiceClient) -> TableRowWriter:
        """A writer for the account ``service`` (the process's TableServiceClient) talks to, with its credential.

        Raises ConfigError for a credential kind this writer cannot sign with (a SAS).
        """
        credential = service.credential
        if isinstance(credential, AzureNamedKeyCredential | AsyncTokenCredential):
            return cls(service.url, credential)
        raise ConfigError("Tables writes need an account key or a token credential, not a SAS")

    async def upsert(self, table: str, entity: Mapping[str, Any], *, operation: str) -> None:
        """Insert the row, or replace the one with its PartitionKey and RowKey (no etag condition)."""
        answer = await self._send("PUT", table, self._row_path(table, entity), entity, operation)
        if answer.status != 204:
            raise _refused(operation, answer)

    async def insert(self, table: str, entity: Mapping[str, Any], *, operation: str) -> str:
        """Insert the row if it is absent and return its etag. Raises ConflictError when the row exists."""
        path = f"{self._account_path}/{quote(table, safe='')}"
        answer = await self._send("POST", table, path, entity, operation, {"Prefer": "return-no-content"})
        if answer.status == 204 and answer.etag:
            return answer.etag
        if answer.status == 409 and answer.error_code in (None, "EntityAlreadyExists"):
            raise ConflictError(f"{operation}: the row exists")
        raise _refused(operation, answer)

    async def replace(self, table: str, entity: Mapping[str, Any], *, etag: str, operation: str) -> str:
        """Replace the row if it still carries ``etag`` and return its new etag. Raises ConflictError when the row
        changed since or is gone."""
        answer = await self._send("PUT", table, self._row_path(table, entity), entity, operation, {"If-Match": etag})
        if answer.status == 204 and answer.etag:
            return answer.etag
        if answer.status in (404, 412) and answer.error_code != "TableNotFound":
            raise ConflictError(f"{operation}: the row changed or is gone ({answer.error_code or answer.status})")
        raise _refused(operation, answer)

    def _row_path(self, table: str, entity: Mapping[str, Any]) -> str:
        return (
            f"{self._account_path}/{quote(table, safe='')}"
            f"(PartitionKey='{_key(entity['PartitionKey'])}',RowKey='{_key(entity['RowKey'])}')"
        )

    async def _send(
        self,
        method: str,
        table: str,
        path: str,
        entity: Mapping[str, Any],
        operation: str,
        conditions: Mapping[str, str] | None = None,
    ) -> _Answer:
        """Send the request, again after a transient answer or a failed connection (up to three times in all).

        A request that went out and lost its answer may have been applied. Sending it again is still safe for each
        of the three writes: an upsert is idempotent, and an insert or a conditional replace that meets its own
        earlier write is answered 409 or 412, which its caller takes for someone else's row (a claim then waits
        until it is stale, a finish finds its row already written). azure-core resends a PUT after a lost answer too.
        Raises UpstreamUnavailableError when no attempt got a definite answer.
        """
        body = entity_json(entity)
        with tables_span(operation, table, method, self._server) as span:
            failure: UpstreamUnavailableError | None = None
            for attempt in range(_ATTEMPTS):
                if attempt:
                    await asyncio.sleep(_BACKOFF[attempt - 1])
                try:
                    answer = await self._request(method, path, body, conditions or {})
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

    async def _request(self, method: str, path: str, body: bytes, conditions: Mapping[str, str]) -> _Answer:
        headers = {
            "x-ms-version": API_VERSION,
            "Content-Type": "application/json",
            "Accept": "application/json;odata=nometadata",
            "DataServiceVersion": "3.0",
            "MaxDataServiceVersion": "3.0;NetFx",
            **conditions,
            **await self._authorization(path),
        }
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=_TIMEOUT, trust_env=bool(urllib.request.getproxies()))
        url = yarl.URL(self._origin + path, encoded=True)
        async with self._session.request(method, url, data=body, headers=headers) as response:
            await response.read()
            return _Answer(
                response.status,
                response.headers.get("ETag"),
                response.headers.get("x-ms-error-code"),
                _seconds(response.headers.get("Retry-After")),
            )

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
