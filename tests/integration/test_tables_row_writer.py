"""TableRowWriter: rows it writes read back through the SDK exactly as rows the SDK writes (against Azurite); odd keys;
replace, not merge; insert-if-absent and etag-conditional replace, with etags the SDK shares; a wrong key, an
unreachable account, transient and lost answers, and bearer tokens (loopback servers)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from azure.core import MatchConditions
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import ResourceModifiedError
from azure.data.tables import UpdateMode
from opentelemetry.trace import SpanKind, StatusCode

from shared.adapters.tables.row_requests import STORAGE_SCOPE
from shared.adapters.tables.row_writer import TableRowWriter, entity_json
from shared.domain.errors import ConfigError, ConflictError, UpstreamError, UpstreamUnavailableError
from tests.integration.row_writer_support import ODD_KEYS, PROPERTIES, FakeCredential, loopback
from tests.support.azurite import free_port

pytestmark = pytest.mark.integration


class TestAgainstAzurite:
    async def test_a_row_reads_back_through_the_sdk_as_the_sdk_would_have_written_it(self, service, writer):
        tables, name = service
        table = tables.get_table_client(name)
        await table.upsert_entity({"PartitionKey": "p", "RowKey": "by-sdk", **PROPERTIES}, mode=UpdateMode.REPLACE)
        await writer.upsert(
            name,
            {"PartitionKey": "p", "RowKey": "by-writer", **PROPERTIES, "Missing": None},
            operation="record decision",
        )
        by_sdk = await table.get_entity("p", "by-sdk")
        by_writer = await table.get_entity("p", "by-writer")
        assert {k: v for k, v in by_writer.items() if k != "RowKey"} == {
            k: v for k, v in by_sdk.items() if k != "RowKey"
        }
        assert {k: type(v) for k, v in by_writer.items()} == {k: type(v) for k, v in by_sdk.items()}
        assert by_writer["At"] == PROPERTIES["At"]
        assert by_writer["Local"] == PROPERTIES["Local"]
        assert "Missing" not in by_writer

    async def test_it_replaces_the_whole_row_instead_of_merging(self, service, writer):
        tables, name = service
        await writer.upsert(
            name, {"PartitionKey": "p", "RowKey": "r", "Old": "gone", "Kept": 1}, operation="record decision"
        )
        await writer.upsert(name, {"PartitionKey": "p", "RowKey": "r", "Kept": 2}, operation="record decision")
        row = await tables.get_table_client(name).get_entity("p", "r")
        assert dict(row) == {"PartitionKey": "p", "RowKey": "r", "Kept": 2}

    @pytest.mark.parametrize(("partition", "row"), ODD_KEYS)
    async def test_keys_with_quotes_and_reserved_characters_reach_the_row_they_name(
        self, service, writer, partition, row
    ):
        tables, name = service
        await writer.upsert(name, {"PartitionKey": partition, "RowKey": row, "Value": "x"}, operation="record decision")
        stored = await tables.get_table_client(name).get_entity(partition, row)
        assert (stored["PartitionKey"], stored["RowKey"], stored["Value"]) == (partition, row, "x")

    async def test_insert_adds_an_absent_row_and_refuses_one_that_exists(self, service, writer):
        tables, name = service
        etag = await writer.insert(name, {"PartitionKey": "p", "RowKey": "r", **PROPERTIES}, operation="claim")
        with pytest.raises(ConflictError):
            await writer.insert(name, {"PartitionKey": "p", "RowKey": "r", "Other": 1}, operation="claim")
        stored = await tables.get_table_client(name).get_entity("p", "r")
        assert stored.metadata["etag"] == etag
        assert {k: v for k, v in stored.items() if k in PROPERTIES} == PROPERTIES

    async def test_replace_holds_only_while_the_row_still_carries_the_etag(self, service, writer):
        tables, name = service
        first = await writer.insert(name, {"PartitionKey": "p", "RowKey": "r", "State": "claimed"}, operation="claim")
        second = await writer.replace(
            name, {"PartitionKey": "p", "RowKey": "r", "State": "sent"}, etag=first, operation="finish"
        )
        assert second != first
        with pytest.raises(ConflictError, match="UpdateConditionNotSatisfied"):
            await writer.replace(
                name, {"PartitionKey": "p", "RowKey": "r", "State": "released"}, etag=first, operation="finish"
            )
        stored = await tables.get_table_client(name).get_entity("p", "r")
        assert (stored["State"], stored.metadata["etag"]) == ("sent", second)

    async def test_replace_of_a_row_that_is_gone_is_a_conflict_not_an_insert(self, service, writer):
        tables, name = service
        etag = await writer.insert(name, {"PartitionKey": "p", "RowKey": "r"}, operation="claim")
        await tables.get_table_client(name).delete_entity("p", "r")
        with pytest.raises(ConflictError):
            await writer.replace(name, {"PartitionKey": "p", "RowKey": "r", "X": 1}, etag=etag, operation="finish")
        assert [row async for row in tables.get_table_client(name).list_entities()] == []

    async def test_etags_pass_between_the_writer_and_the_sdk_both_ways(self, service, writer):
        tables, name = service
        table = tables.get_table_client(name)
        written = await writer.insert(name, {"PartitionKey": "p", "RowKey": "r", "N": 1}, operation="claim")
        updated = await table.update_entity(
            {"PartitionKey": "p", "RowKey": "r", "N": 2},
            mode=UpdateMode.REPLACE,
            etag=written,
            match_condition=MatchConditions.IfNotModified,
        )
        with pytest.raises(ResourceModifiedError):  # the writer's etag is the one the SDK checks against
            await table.update_entity(
                {"PartitionKey": "p", "RowKey": "r", "N": 9},
                mode=UpdateMode.REPLACE,
                etag=written,
                match_condition=MatchConditions.IfNotModified,
            )
        await writer.replace(name, {"PartitionKey": "p", "RowKey": "r", "N": 3}, etag=updated["etag"], operation="x")
        assert (await table.get_entity("p", "r"))["N"] == 3

    async def test_a_wrong_account_key_is_refused_with_the_services_code_and_no_secret(self, service):
        tables, name = service
        wrong_key = base64.b64encode(b"not the key" * 4).decode()
        writer = TableRowWriter(tables.url, AzureNamedKeyCredential("devstoreaccount1", wrong_key))
        try:
            with pytest.raises(UpstreamError) as raised:
                await writer.upsert(name, {"PartitionKey": "p", "RowKey": "r"}, operation="record decision")
        finally:
            await writer.close()
        assert not isinstance(raised.value, UpstreamUnavailableError)
        assert "AuthorizationFailure" in str(raised.value)
        assert wrong_key not in str(raised.value)


async def test_an_unreachable_account_is_unavailable_not_refused():
    key = base64.b64encode(b"k" * 32).decode()
    writer = TableRowWriter(f"http://127.0.0.1:{free_port()}/acct", AzureNamedKeyCredential("acct", key))
    try:
        with pytest.raises(UpstreamUnavailableError):
            await writer.upsert("t", {"PartitionKey": "p", "RowKey": "r"}, operation="record decision")
    finally:
        await writer.close()


class Recorder:
    """A loopback stand-in for the service: answers each write with the next status of ``statuses`` (then 204 and
    an etag)."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.codes = {400: "PropertyValueInvalid", 409: "EntityAlreadyExists", 412: "UpdateConditionNotSatisfied"}
        self.requests: list[tuple[str, dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.raw_path, dict(request.headers), await request.read()))
        status = self.statuses.pop(0) if self.statuses else 204
        headers = {"x-ms-error-code": self.codes[status]} if status in self.codes else {}
        if status == 204:
            headers["ETag"] = f"W/\"datetime'{len(self.requests)}'\""
        return web.Response(status=status, headers=headers)


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[Recorder, str]]:
    stand_in = Recorder()
    async with loopback(stand_in.handle, "PUT", "POST") as url:
        yield stand_in, url


class TestBearerTokensAndRetries:
    async def test_a_token_credential_signs_with_a_bearer_token_fetched_once_while_it_is_fresh(self, recorder):
        stand_in, url = recorder
        credential = FakeCredential(lifetime=3600)
        writer = TableRowWriter(url, credential)
        try:
            await writer.upsert(
                "decisions", {"PartitionKey": "b", "RowKey": "1:e:push", "Attempt": 1}, operation="record decision"
            )
            await writer.upsert(
                "decisions", {"PartitionKey": "b", "RowKey": "2:e:push", "Attempt": 2}, operation="record decision"
            )
        finally:
            await writer.close()
        assert credential.scopes == [(STORAGE_SCOPE,)]
        assert [headers["Authorization"] for _, headers, _ in stand_in.requests] == ["Bearer token-1"] * 2
        path, headers, body = stand_in.requests[0]
        assert path == "/decisions(PartitionKey='b',RowKey='1%3Ae%3Apush')"
        assert headers["x-ms-version"] == "2019-02-02"
        assert body == b'{"PartitionKey":"b","RowKey":"1:e:push","Attempt":1}'

    async def test_a_token_close_to_its_expiry_is_replaced(self, recorder):
        _, url = recorder
        credential = FakeCredential(lifetime=60)  # inside the five-minute margin
        writer = TableRowWriter(url, credential)
        try:
            await writer.upsert("t", {"PartitionKey": "p", "RowKey": "1"}, operation="record decision")
            await writer.upsert("t", {"PartitionKey": "p", "RowKey": "2"}, operation="record decision")
        finally:
            await writer.close()
        assert len(credential.scopes) == 2

    async def test_transient_answers_are_tried_again_and_a_refusal_is_not(self, recorder):
        stand_in, url = recorder
        writer = TableRowWriter(url, FakeCredential(lifetime=3600))
        try:
            stand_in.statuses = [503, 429]
            await writer.upsert("t", {"PartitionKey": "p", "RowKey": "r"}, operation="record decision")
            assert len(stand_in.requests) == 3
            stand_in.statuses = [503, 503, 500]
            with pytest.raises(UpstreamUnavailableError, match="500"):
                await writer.upsert("t", {"PartitionKey": "p", "RowKey": "r"}, operation="record decision")
            assert len(stand_in.requests) == 6
            stand_in.statuses = [400]
            with pytest.raises(UpstreamError, match="PropertyValueInvalid"):
                await writer.upsert("t", {"PartitionKey": "p", "RowKey": "r"}, operation="record decision")
            assert len(stand_in.requests) == 7
        finally:
            await writer.close()

    async def test_insert_and_conditional_replace_send_the_documented_requests(self, recorder):
        stand_in, url = recorder
        writer = TableRowWriter(url, FakeCredential(lifetime=3600))
        try:
            etag = await writer.insert("deliveries", {"PartitionKey": "s.1", "RowKey": "e"}, operation="claim")
            await writer.replace("deliveries", {"PartitionKey": "s.1", "RowKey": "e"}, etag=etag, operation="finish")
        finally:
            await writer.close()
        (insert_path, insert_headers, _), (replace_path, replace_headers, _) = stand_in.requests
        assert (insert_path, insert_headers["Prefer"], "If-Match" in insert_headers) == (
            "/deliveries",
            "return-no-content",
            False,
        )
        assert (replace_path, replace_headers["If-Match"]) == ("/deliveries(PartitionKey='s.1',RowKey='e')", etag)

    async def test_insert_and_replace_retry_transient_answers_and_report_conflicts(self, recorder):
        stand_in, url = recorder
        writer = TableRowWriter(url, FakeCredential(lifetime=3600))
        row = {"PartitionKey": "p", "RowKey": "r"}
        try:
            stand_in.statuses = [503, 409]
            with pytest.raises(ConflictError):
                await writer.insert("t", row, operation="claim")
            stand_in.statuses = [500, 412]
            with pytest.raises(ConflictError, match="UpdateConditionNotSatisfied"):
                await writer.replace("t", row, etag='W/"x"', operation="finish")
            stand_in.statuses = [400]
            with pytest.raises(UpstreamError, match="PropertyValueInvalid") as refused:
                await writer.insert("t", row, operation="claim")
            assert not isinstance(refused.value, ConflictError | UpstreamUnavailableError)
        finally:
            await writer.close()
        assert len(stand_in.requests) == 5

    async def test_a_missing_table_is_a_refusal_not_a_row_conflict(self, recorder):
        stand_in, url = recorder
        stand_in.codes = {404: "TableNotFound", 409: "TableBeingDeleted"}
        writer = TableRowWriter(url, FakeCredential(lifetime=3600))
        row = {"PartitionKey": "p", "RowKey": "r"}
        try:
            stand_in.statuses = [409]
            with pytest.raises(UpstreamError, match="TableBeingDeleted") as on_insert:
                await writer.insert("t", row, operation="claim")
            stand_in.statuses = [404]
            with pytest.raises(UpstreamError, match="TableNotFound") as on_replace:
                await writer.replace("t", row, etag='W/"x"', operation="finish")
        finally:
            await writer.close()
        assert not isinstance(on_insert.value, ConflictError)
        assert not isinstance(on_replace.value, ConflictError)


class TestSpans:
    async def test_each_write_is_one_client_span_with_its_answer_and_a_failure_is_an_error(self, recorder, spans):
        stand_in, url = recorder
        writer = TableRowWriter(url, FakeCredential(lifetime=3600))
        try:
            stand_in.statuses = [503]
            await writer.insert("deliveries", {"PartitionKey": "p", "RowKey": "r"}, operation="claim delivery")
            stand_in.statuses = [503, 503, 503]
            with pytest.raises(UpstreamUnavailableError):
                await writer.upsert("decisions", {"PartitionKey": "p", "RowKey": "r"}, operation="record decision")
        finally:
            await writer.close()
        claim, record = spans.get_finished_spans()
        assert (claim.name, claim.kind, claim.status.status_code) == (
            "Tables claim delivery",
            SpanKind.CLIENT,
            StatusCode.UNSET,
        )
        attributes = dict(claim.attributes or {})
        assert (attributes["push.tables.table"], attributes["http.request.method"]) == ("deliveries", "POST")
        assert attributes["http.response.status_code"] == 204  # the retry's answer, in the one span
        assert (record.name, record.status.status_code) == ("Tables record decision", StatusCode.ERROR)
        assert [event.name for event in record.events] == ["exception"]


@pytest.fixture
async def silent_server() -> AsyncIterator[tuple[list[bytes], str]]:
    """A loopback server that reads each request and closes the connection without answering."""
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield received, f"http://127.0.0.1:{port}/acct"
    server.close()
    await server.wait_closed()


class TestLostAnswers:
    async def test_every_write_whose_answer_is_lost_is_sent_again_then_reported_unavailable(self, silent_server):
        received, url = silent_server
        writer = TableRowWriter(url, FakeCredential(lifetime=3600))
        row = {"PartitionKey": "p", "RowKey": "r"}
        try:
            for write in (
                writer.upsert("t", row, operation="record decision"),
                writer.insert("t", row, operation="claim"),
                writer.replace("t", row, etag='W/"x"', operation="finish"),
            ):
                before = len(received)
                with pytest.raises(UpstreamUnavailableError):
                    await write
                assert len(received) - before >= 3  # three attempts (aiohttp adds one for an idempotent PUT)
        finally:
            await writer.close()


class TestEntityJson:
    def test_types_are_annotated_as_the_sdk_annotates_them(self):
        moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
        body = entity_json({"S": "x", "B": False, "I": 7, "F": 1.5, "D": moment, "N": None})
        assert body.decode() == (
            '{"S":"x","B":false,"I":7,"F":1.5,"F@odata.type":"Edm.Double",'
            '"D":"2026-01-02T03:04:05.000006Z","D@odata.type":"Edm.DateTime"}'
        )

    def test_a_naive_datetime_is_taken_as_utc(self):
        assert b'"2026-01-02T03:04:05.000000Z"' in entity_json({"D": datetime(2026, 1, 2, 3, 4, 5)})

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), 2**31, -(2**31) - 1])
    def test_values_the_service_cannot_hold_are_refused(self, value):
        with pytest.raises(ValueError, match=r"finite|Int32"):
            entity_json({"V": value})

    @pytest.mark.parametrize("value", [b"bytes", ["a"], timedelta(seconds=1)])
    def test_other_types_are_refused(self, value):
        with pytest.raises(TypeError):
            entity_json({"V": value})


def test_an_account_url_that_is_not_http_is_a_config_error():
    with pytest.raises(ConfigError):
        TableRowWriter("ftp://127.0.0.1/acct", FakeCredential(lifetime=60))
