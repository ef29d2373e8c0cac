"""TableRowReader: rows read as the SDK reads them, whoever wrote them (against Azurite): every property type, odd
keys, a missing row, a partition past the service's page size; the documented requests, transient answers,
refusals and unreadable answers, and one span per read (loopback stand-ins)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential
from azure.data.tables import EdmType, EntityProperty, UpdateMode
from azure.data.tables.aio import TableServiceClient
from opentelemetry.trace import SpanKind, StatusCode

from shared.adapters.tables.row_reader import TableRowReader, entity_from_json
from shared.adapters.tables.row_writer import RowChange, TableRowWriter
from shared.domain.errors import ConfigError, UpstreamError, UpstreamUnavailableError
from tests.integration.row_writer_support import ODD_KEYS, PROPERTIES, FakeCredential, loopback

pytestmark = pytest.mark.integration

# Beyond what the row writer stores: the types only the SDK writes here.
SDK_ONLY: dict[str, Any] = {
    "Big": EntityProperty(2**40, EdmType.INT64),
    "Id": uuid.UUID("6a74f035-806a-ae42-b885-f64eaa69fc97"),
    "Blob": b"\x00\x01binary\xff",
}


def plain(value: Any) -> Any:
    """The SDK hands Int64 back as an EntityProperty; the reader as the int it holds."""
    return value.value if isinstance(value, EntityProperty) else value


@pytest.fixture
async def reader(service) -> AsyncIterator[TableRowReader]:
    tables, _ = service
    row_reader = TableRowReader.for_service(tables)
    yield row_reader
    await row_reader.close()


class TestAgainstAzurite:
    async def test_a_row_reads_as_the_sdk_reads_it_with_every_property_type(self, service, reader, writer):
        tables, name = service
        table = tables.get_table_client(name)
        await table.upsert_entity({"PartitionKey": "p", "RowKey": "by-sdk", **PROPERTIES, **SDK_ONLY})
        await writer.upsert(name, {"PartitionKey": "p", "RowKey": "by-writer", **PROPERTIES}, operation="test")
        for row in ("by-sdk", "by-writer"):
            by_sdk = {k: plain(v) for k, v in (await table.get_entity("p", row)).items()}
            read = await reader.get(name, "p", row, operation="get row")
            assert read == by_sdk
            assert {k: type(v) for k, v in read.items()} == {
                k: datetime if isinstance(v, datetime) else type(v) for k, v in by_sdk.items()
            }
        read = await reader.get(name, "p", "by-sdk", operation="get row")
        assert read is not None
        assert read["At"] == PROPERTIES["At"]
        assert read["At"].tzinfo is not None
        assert (read["Big"], read["Id"], read["Blob"]) == (2**40, SDK_ONLY["Id"], SDK_ONLY["Blob"])

    async def test_a_missing_row_is_none(self, service, reader):
        _, name = service
        assert await reader.get(name, "p", "absent", operation="get row") is None

    @pytest.mark.parametrize(("partition", "row"), ODD_KEYS)
    async def test_keys_with_quotes_and_reserved_characters_name_their_row_and_partition(
        self, service, reader, partition, row
    ):
        tables, name = service
        table = tables.get_table_client(name)
        await table.upsert_entity({"PartitionKey": partition, "RowKey": row, "Value": "x"}, mode=UpdateMode.REPLACE)
        await table.upsert_entity({"PartitionKey": partition + "-other", "RowKey": row, "Value": "y"})
        read = await reader.get(name, partition, row, operation="get row")
        assert read == {"PartitionKey": partition, "RowKey": row, "Value": "x"}
        assert await reader.partition(name, partition, operation="list rows") == [read]

    async def test_a_partition_is_read_whole_past_the_services_page_of_1000_in_row_key_order(
        self, service, reader, writer
    ):
        _, name = service
        rows = [{"PartitionKey": "big", "RowKey": f"r{number:05d}", "N": number} for number in range(1_005)]
        for start in range(0, len(rows), 100):
            await writer.transact(name, [RowChange.upsert(r) for r in rows[start : start + 100]], operation="test")
        await writer.upsert(name, {"PartitionKey": "bigger", "RowKey": "r0", "N": -1}, operation="test")
        await writer.upsert(name, {"PartitionKey": "bi", "RowKey": "r0", "N": -2}, operation="test")
        read = await reader.partition(name, "big", operation="list rows")
        assert read == rows
        assert await reader.partition(name, "nobody", operation="list rows") == []

    async def test_a_wrong_account_key_is_refused_with_the_services_code_and_no_secret(self, service):
        tables, name = service
        wrong_key = base64.b64encode(b"not the key" * 4).decode()
        reader = TableRowReader(tables.url, AzureNamedKeyCredential("devstoreaccount1", wrong_key))
        try:
            with pytest.raises(UpstreamError) as raised:
                await reader.get(name, "p", "r", operation="get row")
        finally:
            await reader.close()
        assert not isinstance(raised.value, UpstreamUnavailableError)
        assert "AuthorizationFailure" in str(raised.value)
        assert wrong_key not in str(raised.value)

    async def test_a_missing_table_is_a_refusal(self, service, reader):
        _, name = service
        with pytest.raises(UpstreamError) as raised:
            await reader.get(name + "absent", "p", "r", operation="get row")
        assert not isinstance(raised.value, UpstreamUnavailableError)
        with pytest.raises(UpstreamError):
            await reader.partition(name + "absent", "p", operation="list rows")


class StandIn:
    """A loopback stand-in for the service: answers each read with the next of ``answers`` (status, headers,
    body), then 200 with an empty page."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], bytes]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.raw_path, dict(request.headers)))
        status, headers, body = self.answers.pop(0) if self.answers else (200, {}, b'{"value":[]}')
        return web.Response(status=status, headers=headers, body=body)


@pytest.fixture
async def stand_in() -> AsyncIterator[tuple[StandIn, TableRowReader]]:
    answers = StandIn()
    async with loopback(answers.handle, "GET", path="/devstoreaccount1") as url:
        reader = TableRowReader(url, FakeCredential(lifetime=3600))
        yield answers, reader
        await reader.close()


def page(*names: str) -> bytes:
    return json.dumps({"value": [{"PartitionKey": "p", "RowKey": name} for name in names]}).encode()


class TestRequests:
    async def test_pages_follow_the_continuation_headers_as_documented(self, stand_in):
        answers, reader = stand_in
        answers.answers = [
            (200, {"x-ms-continuation-NextPartitionKey": "1!4!cA--", "x-ms-continuation-NextRowKey": "1!4!cg--"},
             page("a", "b")),
            (200, {"x-ms-continuation-NextPartitionKey": "1!4!cA--"}, page("c")),
            (200, {}, page("d")),
        ]  # fmt: skip
        read = await reader.partition("inst", "o'brien", operation="list installations")
        assert [row["RowKey"] for row in read] == ["a", "b", "c", "d"]
        paths = [path for _, path, _ in answers.requests]
        assert paths == [
            "/devstoreaccount1/inst()?$filter=PartitionKey%20eq%20%27o%27%27brien%27",
            "/devstoreaccount1/inst()?$filter=PartitionKey%20eq%20%27o%27%27brien%27"
            "&NextPartitionKey=1%214%21cA--&NextRowKey=1%214%21cg--",
            "/devstoreaccount1/inst()?$filter=PartitionKey%20eq%20%27o%27%27brien%27&NextPartitionKey=1%214%21cA--",
        ]
        headers = answers.requests[0][2]
        assert headers["Accept"] == "application/json;odata=minimalmetadata"
        assert (headers["x-ms-version"], headers["Authorization"]) == ("2019-02-02", "Bearer token-1")

    async def test_transient_answers_are_tried_again_and_a_refusal_is_not(self, stand_in):
        answers, reader = stand_in
        answers.answers = [(503, {}, b""), (200, {}, json.dumps({"PartitionKey": "p", "RowKey": "r"}).encode())]
        assert await reader.get("prefs", "p", "r", operation="get preferences") == {"PartitionKey": "p", "RowKey": "r"}
        assert len(answers.requests) == 2
        answers.answers = [(403, {"x-ms-error-code": "AuthorizationFailure"}, b"")]
        with pytest.raises(UpstreamError, match="AuthorizationFailure") as raised:
            await reader.get("prefs", "p", "r", operation="get preferences")
        assert not isinstance(raised.value, UpstreamUnavailableError)
        assert len(answers.requests) == 3
        answers.answers = [(503, {"Retry-After": "7"}, b"")] * 3
        with pytest.raises(UpstreamUnavailableError) as unavailable:
            await reader.partition("inst", "p", operation="list installations")
        assert unavailable.value.retry_after == 7.0

    @pytest.mark.parametrize(
        "body",
        [
            b"not json",
            b"[1, 2]",
            b'{"When": "x", "When@odata.type": "Edm.DateTime"}',
            b'{"A": "x", "A@odata.type": "Edm.X"}',
        ],
        ids=["garbage", "not-an-entity", "bad-value", "unknown-type"],
    )
    async def test_an_unreadable_row_is_an_error_not_a_crash(self, stand_in, body):
        answers, reader = stand_in
        answers.answers = [(200, {}, body)]
        with pytest.raises(UpstreamError) as raised:
            await reader.get("prefs", "p", "r", operation="get preferences")
        assert not isinstance(raised.value, UpstreamUnavailableError)

    async def test_a_page_without_its_list_is_an_error(self, stand_in):
        answers, reader = stand_in
        answers.answers = [(200, {}, b'{"odata.metadata": "x"}')]
        with pytest.raises(UpstreamError, match="without a list"):
            await reader.partition("inst", "p", operation="list installations")

    async def test_each_read_is_one_client_span_with_its_answer(self, stand_in, spans):
        answers, reader = stand_in
        answers.answers = [(503, {}, b""), (404, {"x-ms-error-code": "ResourceNotFound"}, b"")]
        assert await reader.get("prefs", "p", "r", operation="get preferences") is None
        (span,) = spans.get_finished_spans()
        assert (span.name, span.kind, span.status.status_code) == (
            "Tables get preferences",
            SpanKind.CLIENT,
            StatusCode.UNSET,
        )
        attributes = dict(span.attributes or {})
        assert (attributes["http.request.method"], attributes["http.response.status_code"]) == ("GET", 404)


def test_a_sas_credential_is_a_config_error_as_for_the_writer():
    service = TableServiceClient("https://account.table.core.windows.net", credential=AzureSasCredential("sv=x&sig=y"))
    with pytest.raises(ConfigError, match="not a SAS"):
        TableRowReader.for_service(service)
    with pytest.raises(ConfigError, match="not a SAS"):
        TableRowWriter.for_service(service)


class TestEntityFromJson:
    def test_annotated_types_become_what_the_sdk_returns_and_metadata_is_left_out(self):
        entity = entity_from_json(
            {
                "odata.etag": 'W/"x"',
                "PartitionKey": "p",
                "RowKey": "r",
                "Timestamp": "2026-11-29T21:03:00.1234567Z",
                "Timestamp@odata.type": "Edm.DateTime",
                "At": "2026-11-29T21:03:00.1234567Z",
                "At@odata.type": "Edm.DateTime",
                "Whole": "2026-11-29T21:03:00Z",
                "Whole@odata.type": "Edm.DateTime",
                "Big": "1099511627776",
                "Big@odata.type": "Edm.Int64",
                "Nan": "NaN",
                "Nan@odata.type": "Edm.Double",
                "Count": 3,
                "Flag": False,
            }
        )
        assert entity == {
            "PartitionKey": "p",
            "RowKey": "r",
            "At": datetime(2026, 11, 29, 21, 3, 0, 123456, tzinfo=UTC),
            "Whole": datetime(2026, 11, 29, 21, 3, tzinfo=UTC),
            "Big": 2**40,
            "Nan": pytest.approx(float("nan"), nan_ok=True),
            "Count": 3,
            "Flag": False,
        }
