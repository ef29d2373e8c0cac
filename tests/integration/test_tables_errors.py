"""Tables adapters map storage failures to shared.domain.errors: unreachable, throttled/5xx, and refused requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from azure.core.exceptions import AzureError
from azure.data.tables.aio import TableServiceClient

from shared.adapters.tables import (
    TableDeliveryLog,
    TableInstallationMirror,
    TablePreferencesStore,
    TableQuarantineStore,
)
from shared.domain.errors import UpstreamError, UpstreamUnavailableError
from shared.domain.records import Preferences
from tests.conftest import random_id
from tests.support.azurite import ACCOUNT_NAME, connection_string, free_port

pytestmark = pytest.mark.integration

Operation = Callable[[TableServiceClient], Awaitable[object]]

OPERATIONS: dict[str, Operation] = {
    "mirror.get": lambda s: TableInstallationMirror(s, "tx").get("alice", "inst"),
    "mirror.list_all": lambda s: TableInstallationMirror(s, "tx").list_all(),
    "preferences.put": lambda s: TablePreferencesStore(s, "tx").put(
        Preferences(user_id="alice", debit_threshold=Decimal("1"))
    ),
    "delivery.claim": lambda s: TableDeliveryLog(s, "tx").claim(
        "ev", "hr/push", now=datetime(2025, 1, 1, tzinfo=UTC), stale_after=timedelta(minutes=5)
    ),
    "quarantine.list": lambda s: TableQuarantineStore(s, "tx").list(),
}


def quick_client(conn_str: str) -> TableServiceClient:
    return TableServiceClient.from_connection_string(conn_str, retry_total=0, connection_timeout=1, read_timeout=2)


@pytest.fixture
async def status_server() -> AsyncIterator[Callable[[int, dict[str, str]], str]]:
    """A loopback HTTP server answering every request with one fixed status; yields a connection-string factory."""
    status = [503]
    extra_headers: dict[str, str] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        head = [f"HTTP/1.1 {status[0]} Test", "Content-Length: 0", "Connection: close"]
        head += [f"{name}: {value}" for name, value in extra_headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    def configure(code: int, headers: dict[str, str]) -> str:
        status[0] = code
        extra_headers.clear()
        extra_headers.update(headers)
        return connection_string(port)

    try:
        yield configure
    finally:
        server.close()
        await server.wait_closed()


class TestUnreachable:
    @pytest.mark.parametrize("name", sorted(OPERATIONS))
    async def test_operations_raise_upstream_unavailable_when_nothing_listens(self, name: str) -> None:
        async with quick_client(connection_string(free_port())) as service:
            with pytest.raises(UpstreamUnavailableError) as caught:
                await OPERATIONS[name](service)

        assert isinstance(caught.value.__cause__, AzureError)


class TestStatusMapping:
    @pytest.mark.parametrize("status", [429, 500, 503])
    async def test_throttling_and_server_errors_raise_upstream_unavailable(
        self, status_server: Callable[[int, dict[str, str]], str], status: int
    ) -> None:
        async with quick_client(status_server(status, {"Retry-After": "7"})) as service:
            with pytest.raises(UpstreamUnavailableError) as caught:
                await TableInstallationMirror(service, random_id("t")).get("alice", "inst")

        assert caught.value.retry_after == 7.0

    @pytest.mark.parametrize("status", [400, 403])
    async def test_refusals_raise_upstream_error_that_is_not_retryable(
        self, status_server: Callable[[int, dict[str, str]], str], status: int
    ) -> None:
        async with quick_client(status_server(status, {})) as service:
            with pytest.raises(UpstreamError) as caught:
                await TableInstallationMirror(service, random_id("t")).get("alice", "inst")

        assert not isinstance(caught.value, UpstreamUnavailableError)
        assert caught.value.__cause__ is not None

    async def test_a_wrong_account_key_raises_upstream_error(self, azurite_tables: str) -> None:
        wrong = azurite_tables.replace("AccountKey=", "AccountKey=AAAA", 1)
        assert f"AccountName={ACCOUNT_NAME}" in wrong
        async with quick_client(wrong) as service:
            with pytest.raises(UpstreamError) as caught:
                await TableInstallationMirror(service, random_id("t")).get("alice", "inst")

        assert not isinstance(caught.value, UpstreamUnavailableError)
        assert getattr(caught.value.__cause__, "status_code", None) == 403
