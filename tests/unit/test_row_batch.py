"""The $batch framing: a change set the standard library's MIME parser reads back part by part, and answers in the
shapes the service and Azurite send (success with etags, one failed change named by its index, malformed bodies)."""

from __future__ import annotations

import email
import email.policy

import pytest

from shared.adapters.tables.row_batch import BatchPart, PartAnswer, decode_changeset, encode_changeset

# The documented shape of a successful answer (Performing entity group transactions), with the service's headers.
SERVICE_ANSWER = (
    "--batchresponse_7ab1c2ad-d92e-4cce-8de5-7bd8f5a4c0ac\r\n"
    "Content-Type: multipart/mixed; boundary=changesetresponse_5aa6a4b4-8fc6-4f1d-9fd9-a1e3a1f3fd1b\r\n"
    "\r\n"
    "--changesetresponse_5aa6a4b4-8fc6-4f1d-9fd9-a1e3a1f3fd1b\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "\r\n"
    "HTTP/1.1 204 No Content\r\n"
    "Content-ID: 1\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Cache-Control: no-cache\r\n"
    "Preference-Applied: return-no-content\r\n"
    "DataServiceVersion: 3.0;\r\n"
    "Location: https://acct.table.core.windows.net/inbox(PartitionKey='u',RowKey='n%3A1')\r\n"
    "ETag: W/\"datetime'2026-11-29T18%3A39%3A38.4705726Z'\"\r\n"
    "\r\n"
    "\r\n"
    "--changesetresponse_5aa6a4b4-8fc6-4f1d-9fd9-a1e3a1f3fd1b\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "\r\n"
    "HTTP/1.1 204 No Content\r\n"
    "Content-ID: 2\r\n"
    "ETag: W/\"datetime'2026-11-29T18%3A39%3A38.4705735Z'\"\r\n"
    "\r\n"
    "\r\n"
    "--changesetresponse_5aa6a4b4-8fc6-4f1d-9fd9-a1e3a1f3fd1b--\r\n"
    "--batchresponse_7ab1c2ad-d92e-4cce-8de5-7bd8f5a4c0ac--\r\n"
)
SERVICE_TYPE = "multipart/mixed; boundary=batchresponse_7ab1c2ad-d92e-4cce-8de5-7bd8f5a4c0ac"

FAILED_ANSWER = (
    "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_1\r\n\r\n"
    "--changesetresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    "HTTP/1.1 412 Precondition Failed\r\nContent-ID: 1\r\n"
    "Content-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n\r\n"
    '{"odata.error":{"code":"UpdateConditionNotSatisfied","message":{"lang":"en-US",'
    '"value":"1:The update condition specified in the request was not satisfied.\\nRequestId:x"}}}\r\n'
    "--changesetresponse_1--\r\n--batchresponse_1--\r\n"
)


def test_a_successful_answer_gives_every_changes_etag_in_order():
    assert decode_changeset(SERVICE_TYPE, SERVICE_ANSWER.encode()) == [
        PartAnswer(204, "W/\"datetime'2026-11-29T18%3A39%3A38.4705726Z'\""),
        PartAnswer(204, "W/\"datetime'2026-11-29T18%3A39%3A38.4705735Z'\""),
    ]


def test_a_failed_change_is_read_with_its_code_and_index():
    answer = decode_changeset('multipart/mixed; boundary="batchresponse_1"', FAILED_ANSWER.encode())
    assert answer == [PartAnswer(412, None, "UpdateConditionNotSatisfied", 1)]


def test_bare_line_feeds_are_read_too():
    lf_only = SERVICE_ANSWER.replace("\r\n", "\n")
    assert [part.status for part in decode_changeset(SERVICE_TYPE, lf_only.encode())] == [204, 204]


def test_an_error_without_a_readable_body_keeps_its_status():
    broken = FAILED_ANSWER.replace('{"odata.error"', "<html>oops</html>{")
    assert decode_changeset("multipart/mixed; boundary=batchresponse_1", broken.encode()) == [PartAnswer(412)]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", SERVICE_ANSWER),
        ("multipart/mixed; boundary=other", SERVICE_ANSWER),
        (SERVICE_TYPE, SERVICE_ANSWER.replace("HTTP/1.1 204", "HTTX/1.1 204")),
        ("multipart/mixed; boundary=batchresponse_1", "--batchresponse_1\r\nContent-Type: text/plain\r\n\r\nx\r\n"),
    ],
)
def test_anything_else_is_refused_as_unreadable(content_type, body):
    with pytest.raises(ValueError, match="unreadable batch answer"):
        decode_changeset(content_type, body.encode())


def test_the_request_is_one_change_set_a_mime_parser_reads_back_part_by_part():
    content_type, body = encode_changeset(
        [
            BatchPart("POST", "https://acct.table.core.windows.net/inbox", {"Prefer": "return-no-content"}, b'{"a":1}'),
            BatchPart(
                "PUT", "https://acct.table.core.windows.net/inbox(PartitionKey='u',RowKey='t')", {}, "ü".encode()
            ),
        ]
    )
    message = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP
    )
    assert message.get_content_type() == "multipart/mixed"
    (changeset,) = message.get_payload()
    operations = changeset.get_payload()
    assert [part["Content-Type"] for part in operations] == ["application/http"] * 2
    assert [part["Content-ID"] for part in operations] == ["0", "1"]
    first, second = (part.get_payload(decode=True) for part in operations)
    assert first.startswith(
        b"POST https://acct.table.core.windows.net/inbox HTTP/1.1\r\nPrefer: return-no-content\r\nContent-Length: 7\r\n"
    )
    assert b"\r\nContent-Length: 2\r\n" in second  # bytes, not characters
    assert first.endswith(b'\r\n\r\n{"a":1}')
    assert second.endswith("\r\n\r\nü".encode())
