"""TableRowWriter.transact: entity-group transactions that are all or nothing on Azurite, with etags the SDK shares;
and, against a loopback stand-in, the documented $batch request, retries of transient answers (outer and inner),
an unreadable answer, and one span per transaction."""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from azure.core import MatchConditions
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableServiceClient
from opentelemetry.trace import SpanKind

from shared.adapters.tables.row_writer import RowChange, RowConflict, TableRowWriter
from shared.domain.errors import UpstreamError, UpstreamUnavailableError
from tests.conftest import random_id
from tests.integration.row_writer_support import PROPERTIES, FakeCredential, loopback

pytestmark = pytest.mark.integration


async def rows(tables: TableServiceClient, name: str) -> dict[str, dict[str, Any]]:
    return {row["RowKey"]: dict(row) async for row in tables.get_table_client(name).list_entities()}


class TestAgainstAzurite:
    async def test_inserts_land_together_and_read_back_as_the_sdk_wrote_them(self, service, writer):
        tables, name = service
        etags = await writer.transact(
            name,
            [
                RowChange.insert({"PartitionKey": "o'brien", "RowKey": "n:é:@=+,;", **PROPERTIES}),
                RowChange.insert({"PartitionKey": "o'brien", "RowKey": "t:0001", "Copy": True}),
            ],
            operation="add inbox entry",
        )
        table = tables.get_table_client(name)
        await table.upsert_entity(
            {"PartitionKey": "o'brien", "RowKey": "by-sdk", **PROPERTIES}, mode=UpdateMode.REPLACE
        )
        entry = await table.get_entity("o'brien", "n:é:@=+,;")
        by_sdk = await table.get_entity("o'brien", "by-sdk")
        assert [entry.metadata["etag"], (await table.get_entity("o'brien", "t:0001")).metadata["etag"]] == etags
        assert {k: (v, type(v)) for k, v in entry.items() if k in PROPERTIES} == {
            k: (v, type(v)) for k, v in by_sdk.items() if k in PROPERTIES
        }

    async def test_an_insert_meeting_a_row_writes_nothing_and_names_the_change(self, service, writer):
        tables, name = service
        await writer.insert(name, {"PartitionKey": "p", "RowKey": "n:1", "V": "first"}, operation="claim")
        with pytest.raises(RowConflict, match="EntityAlreadyExists") as raised:
            await writer.transact(
                name,
                [
                    RowChange.upsert({"PartitionKey": "p", "RowKey": "t:1", "V": "second"}),
                    RowChange.insert({"PartitionKey": "p", "RowKey": "n:1", "V": "second"}),
                ],
                operation="add inbox entry",
            )
        assert (raised.value.status, raised.value.index, raised.value.gone) == (409, 1, False)
        assert {key: row["V"] for key, row in (await rows(tables, name)).items()} == {"n:1": "first"}

    async def test_a_replace_holds_only_while_the_row_carries_the_etag_and_a_gone_row_is_told_apart(
        self, service, writer
    ):
        tables, name = service
        first, _ = await writer.transact(
            name,
            [RowChange.insert({"PartitionKey": "p", "RowKey": k, "V": 1}) for k in ("n:1", "t:1")],
            operation="add",
        )
        second, _ = await writer.transact(
            name,
            [
                RowChange.replace({"PartitionKey": "p", "RowKey": "n:1", "V": 2}, first),
                RowChange.upsert({"PartitionKey": "p", "RowKey": "t:1", "V": 2}),
            ],
            operation="update",
        )
        stale = [
            RowChange.upsert({"PartitionKey": "p", "RowKey": "t:1", "V": 3}),
            RowChange.replace({"PartitionKey": "p", "RowKey": "n:1", "V": 3}, first),
        ]
        with pytest.raises(RowConflict, match="UpdateConditionNotSatisfied") as changed:
            await writer.transact(name, stale, operation="update")
        assert (changed.value.status, changed.value.gone) == (412, False)
        assert {key: row["V"] for key, row in (await rows(tables, name)).items()} == {"n:1": 2, "t:1": 2}

        await tables.get_table_client(name).delete_entity("p", "n:1")
        with pytest.raises(RowConflict) as gone:
            await writer.transact(
                name, [RowChange.replace({"PartitionKey": "p", "RowKey": "n:1", "V": 4}, second)], operation="update"
            )
        assert gone.value.gone
        assert "n:1" not in await rows(tables, name)  # not re-created by the replace

    async def test_etags_pass_between_transactions_and_the_sdk(self, service, writer):
        tables, name = service
        table = tables.get_table_client(name)
        (written,) = await writer.transact(
            name, [RowChange.insert({"PartitionKey": "p", "RowKey": "r"})], operation="a"
        )
        updated = await table.update_entity(
            {"PartitionKey": "p", "RowKey": "r", "N": 2},
            mode=UpdateMode.REPLACE,
            etag=written,
            match_condition=MatchConditions.IfNotModified,
        )
        (last,) = await writer.transact(
            name, [RowChange.replace({"PartitionKey": "p", "RowKey": "r", "N": 3}, updated["etag"])], operation="b"
        )
        assert (await table.get_entity("p", "r")).metadata["etag"] == last

    async def test_a_missing_table_is_a_refusal_not_a_row_conflict(self, service, writer):
        with pytest.raises(UpstreamError, match="TableNotFound") as raised:
            await writer.transact(
                random_id("t") + "none", [RowChange.insert({"PartitionKey": "p", "RowKey": "r"})], operation="add"
            )
        assert not isinstance(raised.value, RowConflict | UpstreamUnavailableError)

    async def test_empty_oversized_and_etag_less_transactions_are_refused_before_sending(self, service, writer):
        _, name = service
        with pytest.raises(ValueError, match="1 to 100"):
            await writer.transact(name, [], operation="add")
        too_many = [RowChange.insert({"PartitionKey": "p", "RowKey": str(n)}) for n in range(101)]
        with pytest.raises(ValueError, match="1 to 100"):
            await writer.transact(name, too_many, operation="add")
        with pytest.raises(ValueError, match="etag"):
            await writer.transact(name, [RowChange("replace", {"PartitionKey": "p", "RowKey": "r"})], operation="x")


class BatchStandIn:
    """A loopback $batch endpoint. Each request gets the next entry of ``answers``: an int is the whole request's
    status; a list of ints is the change set's statuses (the first failing one is answered alone, as the service
    does). When ``answers`` is empty every change succeeds."""

    def __init__(self) -> None:
        self.answers: list[int | list[int]] = []
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.raw_answer: bytes | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((request.raw_path, dict(request.headers), body))
        answer = self.answers.pop(0) if self.answers else [204] * len(_operations(request.headers, body))
        if isinstance(answer, int):
            return web.Response(status=answer, headers={"x-ms-error-code": "ServerBusy"})
        if self.raw_answer is not None:
            return web.Response(status=202, body=self.raw_answer, content_type="multipart/mixed")
        failed = [(index, status) for index, status in enumerate(answer) if status >= 300]
        parts = [failed[0]] if failed else list(enumerate(answer))
        changeset = "".join(_answer_part(index, status) for index, status in parts)
        text = (
            "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_1\r\n\r\n"
            f"{changeset}--changesetresponse_1--\r\n--batchresponse_1--\r\n"
        )
        return web.Response(
            status=202, body=text.encode(), headers={"Content-Type": "multipart/mixed; boundary=batchresponse_1"}
        )


def _answer_part(index: int, status: int) -> str:
    head = "--changesetresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    if status < 300:
        return f"{head}HTTP/1.1 {status} No Content\r\nETag: W/\"datetime'{index}'\"\r\n\r\n\r\n"
    error = f'{{"odata.error":{{"code":"ServerBusy","message":{{"lang":"en-US","value":"{index}:busy"}}}}}}'
    return f"{head}HTTP/1.1 {status} Error\r\nContent-Type: application/json\r\n\r\n{error}\r\n"


def _operations(headers: Any, body: bytes) -> list[email.message.Message]:
    """The change set's operations, read with the standard library's MIME parser (not the writer's framing)."""
    message = email.message_from_bytes(
        f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode() + body, policy=email.policy.HTTP
    )
    (changeset,) = message.get_payload()
    return list(changeset.get_payload())


@pytest.fixture
async def stand_in() -> AsyncIterator[tuple[BatchStandIn, str]]:
    batch = BatchStandIn()
    async with loopback(batch.handle, "POST", path="/acct") as url:
        yield batch, url


class TestTheRequestAndItsAnswers:
    async def test_one_change_set_of_documented_operations_signed_and_posted_to_batch(self, stand_in):
        batch, url = stand_in
        writer = TableRowWriter(url, FakeCredential(lifetime=3600))
        try:
            etags = await writer.transact(
                "inbox",
                [
                    RowChange.insert({"PartitionKey": "u1", "RowKey": "n:a"}),
                    RowChange.replace({"PartitionKey": "u1", "RowKey": "t:1:a", "V": 1}, 'W/"x"'),
                    RowChange.upsert({"PartitionKey": "u1", "RowKey": "it's"}),
                ],
                operation="add inbox entry",
            )
        finally:
            await writer.close()
        assert etags == ["W/\"datetime'0'\"", "W/\"datetime'1'\"", "W/\"datetime'2'\""]
        ((path, headers, body),) = batch.requests
        assert (path, headers["Authorization"], headers["x-ms-version"]) == (
            "/acct/$batch",
            "Bearer token-1",
            "2019-02-02",
        )
        requests = [part.get_payload() for part in _operations(headers, body)]
        request_lines = [str(request).split("\r\n", 1)[0] for request in requests]
        origin = url.removesuffix("/acct")
        assert request_lines == [
            f"POST {origin}/acct/inbox HTTP/1.1",
            f"PUT {origin}/acct/inbox(PartitionKey='u1',RowKey='t%3A1%3Aa') HTTP/1.1",
            f"PUT {origin}/acct/inbox(PartitionKey='u1',RowKey='it%27%27s') HTTP/1.1",  # quote doubled, encoded
        ]
        assert "Prefer: return-no-content" in str(requests[0])
        assert 'If-Match: W/"x"' in str(requests[1])
        assert "If-Match" not in str(requests[2])
        assert str(requests[1]).rstrip().endswith('{"PartitionKey":"u1","RowKey":"t:1:a","V":1}')

    async def test_transient_answers_outer_or_inner_are_tried_again_then_reported(self, stand_in):
        batch, url = stand_in
        writer = TableRowWriter(url, FakeCredential(lifetime=3600))
        change = [
            RowChange.insert({"PartitionKey": "p", "RowKey": "a"}),
            RowChange.insert({"PartitionKey": "p", "RowKey": "b"}),
        ]
        try:
            batch.answers = [503, [204, 500]]
            assert len(await writer.transact("t", change, operation="add")) == 2
            assert len(batch.requests) == 3
            batch.answers = [503, [503, 204], 429]
            with pytest.raises(UpstreamUnavailableError, match="429"):
                await writer.transact("t", change, operation="add")
            assert len(batch.requests) == 6
        finally:
            await writer.close()

    async def test_an_unreadable_answer_is_an_upstream_error_and_the_span_says_so(self, stand_in, spans):
        batch, url = stand_in
        writer = TableRowWriter(url, FakeCredential(lifetime=3600))
        batch.raw_answer = b"--nothing we know--"
        batch.answers = [[204]]
        try:
            with pytest.raises(UpstreamError, match="unreadabl"):
                await writer.transact("inbox", [RowChange.upsert({"PartitionKey": "p", "RowKey": "a"})], operation="x")
        finally:
            await writer.close()
        (span,) = spans.get_finished_spans()
        assert (span.name, span.status.status_code.name) == ("Tables x", "ERROR")

    async def test_a_transaction_is_one_client_span_with_the_answer_of_its_last_attempt(self, stand_in, spans):
        batch, url = stand_in
        writer = TableRowWriter(url, FakeCredential(lifetime=3600))
        batch.answers = [[503]]
        try:
            await writer.transact(
                "inbox", [RowChange.insert({"PartitionKey": "p", "RowKey": "a"})], operation="add inbox entry"
            )
        finally:
            await writer.close()
        (span,) = spans.get_finished_spans()
        attributes = dict(span.attributes or {})
        assert (span.name, span.kind) == ("Tables add inbox entry", SpanKind.CLIENT)
        assert (attributes["push.tables.table"], attributes["http.request.method"]) == ("inbox", "POST")
        assert attributes["http.response.status_code"] == 202
