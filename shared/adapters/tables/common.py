"""What every Tables adapter shares: safe keys, error mapping at the edge, lazily created tables, value helpers."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.domain.errors import UpstreamError, UpstreamUnavailableError

__all__ = [
    "TRANSIENT_STATUS",
    "TableSet",
    "as_datetime",
    "decode_key",
    "encode_key",
    "mapped_errors",
    "optional_datetime",
    "utc",
]

# Characters left as they are in PartitionKey/RowKey. Everything else (including the forbidden / \ # ? and control
# characters) makes the whole value base64url-encoded behind "~", which is outside this set, so the mapping stays
# injective and reversible.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-@.:=]{1,512}")
_ENCODED_MARK = "~"
_TABLE_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9]{0,39}")
# Answers that mean "unavailable for now": mapped to UpstreamUnavailableError, and tried again by the row writer.
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def encode_key(value: str) -> str:
    """Return ``value`` as a valid PartitionKey/RowKey: unchanged when safe, else ``~`` + unpadded base64url."""
    if _PLAIN_KEY.fullmatch(value):
        return value
    encoded = base64.urlsafe_b64encode(value.encode("utf-8", "surrogatepass")).decode("ascii").rstrip("=")
    return _ENCODED_MARK + encoded


def decode_key(key: str) -> str:
    """Invert :func:`encode_key`."""
    if not key.startswith(_ENCODED_MARK):
        return key
    body = key[len(_ENCODED_MARK) :]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8", "surrogatepass")


def _retry_after(exc: HttpResponseError) -> float | None:
    headers = getattr(exc.response, "headers", None) or {}
    raw = headers.get("Retry-After")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


@contextmanager
def mapped_errors(operation: str) -> Iterator[None]:
    """Translate Azure SDK errors raised inside the block into ``shared.domain.errors``.

    Raises UpstreamUnavailableError for connection failures, timeouts, 408/429/5xx; UpstreamError for the rest.
    Callers handle the errors that carry meaning for them (not found, exists, modified) inside the block.
    """
    try:
        yield
    except (ServiceRequestError, ServiceResponseError, TimeoutError) as exc:
        raise UpstreamUnavailableError(
            f"Tables unreachable during {operation}: {type(exc).__name__}", cause="storage"
        ) from exc
    except HttpResponseError as exc:
        status = exc.status_code
        if status is not None and status in TRANSIENT_STATUS:
            raise UpstreamUnavailableError(
                f"Tables answered {status} during {operation}", retry_after=_retry_after(exc), cause="storage"
            ) from exc
        code = getattr(exc, "error_code", None) or status
        raise UpstreamError(f"Tables refused {operation}: {code}") from exc
    except AzureError as exc:
        raise UpstreamError(f"Tables failed during {operation}: {type(exc).__name__}") from exc


def utc(value: datetime) -> datetime:
    """Return an aware UTC datetime; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def as_datetime(value: Any) -> datetime:
    """Turn a datetime read from Tables (the SDK's subclass) into a plain aware UTC datetime."""
    if not isinstance(value, datetime):
        raise UpstreamError(f"Tables returned {type(value).__name__} where a datetime was stored")
    return utc(
        datetime(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            tzinfo=value.tzinfo,
        )
    )


def optional_datetime(value: Any) -> datetime | None:
    return None if value is None else as_datetime(value)


class TableSet:
    """Table clients under one name prefix, each table created on first use (once per instance, no I/O before).

    Raises ValueError for a prefix that would make an invalid table name.
    """

    def __init__(self, service: TableServiceClient, prefix: str = "") -> None:
        if prefix and not _TABLE_PREFIX.fullmatch(prefix):
            raise ValueError("table prefix must be a letter followed by up to 39 letters or digits")
        self._service = service
        self._prefix = prefix
        self._ready: dict[str, TableClient] = {}
        self._lock = asyncio.Lock()

    def name(self, table: str) -> str:
        return f"{self._prefix}{table}"

    async def get(self, table: str) -> TableClient:
        """Return the client of ``table``, creating the table first if this instance has not yet.

        Raises UpstreamError (or UpstreamUnavailableError) when the table cannot be created.
        """
        client = self._ready.get(table)
        if client is not None:
            return client
        async with self._lock:
            client = self._ready.get(table)
            if client is None:
                with mapped_errors(f"create table {self.name(table)}"):
                    await self._service.create_table_if_not_exists(self.name(table))
                client = self._service.get_table_client(self.name(table))
                self._ready[table] = client
        return client
