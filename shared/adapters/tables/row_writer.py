"""TableRowWriter: insert-or-replace of one row through the Tables REST API directly, for the decision ledger.

Why not the SDK here: the ledger writes two rows for every broadcast and three for every event addressed to a user,
the most frequent writes of the push functions after the delivery log's own, and it is a best-effort audit (a write
that fails is logged and the delivery goes on). Through azure-data-tables one upsert costs the function about
0.7 ms of CPU (request building, the azure-core pipeline, header parsing); this signed request costs about a third
of that, and the HR pipeline moved from about 156 to 195 events/s at c = 64 on the benchmark machine
(docs/architecture.md). The delivery log, the inbox and every read keep the SDK. What this gives up is the SDK's
dependency span in Application Insights for these writes; a failed write is still logged by the ledger's caller.

The request is the one the service documents for Insert Or Replace Entity: ``PUT {account}/{table}(PartitionKey=
'..',RowKey='..')`` with a JSON body, property types annotated as the SDK annotates them (so rows read back through
the SDK as if it had written them), authorized with Shared Key Lite for an account key (Azurite, connection
strings) or a bearer token from the service client's credential (managed identity), API version 2019-02-02.
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
from shared.domain.errors import ConfigError, UpstreamError, UpstreamUnavailableError

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


def _key(value: str) -> str:
    # OData doubles a quote inside a quoted key; the rest is percent-encoded, and sent exactly as signed.
    return quote(value.replace("'", "''"), safe="")


class TableRowWriter:
    """Upserts rows into tables of one storage account. Raises UpstreamUnavailableError when Tables is unreachable,
    times out or answers 408/429/5xx (after up to three attempts), UpstreamError when it refuses a write.

    Opens its HTTP session on first use; ``close`` ends it.
    """

    def __init__(self, account_url: str, credential: AzureNamedKeyCredential | AsyncTokenCredential) -> None:
        parts = urlsplit(account_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("the Tables account URL must be an http(s) URL")
        self._origin = f"{parts.scheme}://{parts.netloc}"
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
        raise ConfigError("the decision ledger needs an account key or a token credential for Tables")

    async def upsert(self, table: str, entity: Mapping[str, Any]) -> None:
        """Insert the row, or replace the one with its PartitionKey and RowKey (no etag condition)."""
        path = (
            f"{self._account_path}/{quote(table, safe='')}"
            f"(PartitionKey='{_key(entity['PartitionKey'])}',RowKey='{_key(entity['RowKey'])}')"
        )
        body = entity_json(entity)
        failure: UpstreamError | None = None
        for attempt in range(_ATTEMPTS):
            if attempt:
                await asyncio.sleep(_BACKOFF[attempt - 1])
            try:
                status, error_code = await self._put(path, body)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                failure = UpstreamUnavailableError(
                    f"Tables unreachable during record decision: {type(exc).__name__}", cause="storage"
                )
                continue
            if status == 204:
                return
            if status not in TRANSIENT_STATUS:
                raise UpstreamError(f"Tables refused record decision: {error_code or status}")
            failure = UpstreamUnavailableError(f"Tables answered {status} during record decision", cause="storage")
        assert failure is not None
        raise failure

    async def _put(self, path: str, body: bytes) -> tuple[int, str | None]:
        headers = {
            "x-ms-version": API_VERSION,
            "Content-Type": "application/json",
            "Accept": "application/json;odata=nometadata",
            "DataServiceVersion": "3.0",
            "MaxDataServiceVersion": "3.0;NetFx",
            **await self._authorization(path),
        }
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=_TIMEOUT, trust_env=bool(urllib.request.getproxies()))
        url = yarl.URL(self._origin + path, encoded=True)
        async with self._session.put(url, data=body, headers=headers) as response:
            await response.read()
            return response.status, response.headers.get("x-ms-error-code")

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
