"""The NH transport's adapter between httpx and h11: the bytes of a request, and the answer read from bytes fed in."""

from __future__ import annotations

import httpx
import pytest

from shared.notification_hubs.http11 import MAX_HEAD_BYTES, Answer, Http11Connection, request_head


def request(method: str = "POST", content: bytes | None = b'{"a":"b"}', **headers: str) -> httpx.Request:
    """A request as httpx.AsyncClient builds it (default headers merged, Host and Content-Length added)."""
    client = httpx.AsyncClient()
    return client.build_request(
        method, "https://myns.servicebus.windows.net/hub/messages?api-version=2020-06&direct", content=content,
        headers={"ServiceBusNotification-Format": "template", "User-Agent": "NHub/2020-06", **headers},
    )  # fmt: skip


def encode(built: httpx.Request, body: bytes | None = None) -> bytes:
    body = built.content if body is None else body
    return Http11Connection().send(request_head(built, body), body)


def sent(method: str = "POST", **headers: str) -> Http11Connection:
    """A connection that has sent one ``method`` request and waits for its answer."""
    connection = Http11Connection()
    built = request(method, **headers)
    connection.send(request_head(built, built.content), built.content)
    return connection


def answer(*pieces: bytes, method: str = "POST") -> Answer | None:
    connection = sent(method)
    result = None
    for piece in pieces:
        result = connection.receive(piece)
    return result


class TestSend:
    def test_writes_the_request_line_lower_cased_headers_in_order_and_the_body(self) -> None:
        """The bytes the transports before this one wrote, so NH sees exactly the same request."""
        assert encode(request(TrackingId="t-1")) == (
            b"POST /hub/messages?api-version=2020-06&direct HTTP/1.1\r\n"
            b"host: myns.servicebus.windows.net\r\n"
            b"accept: */*\r\n"
            b"accept-encoding: gzip, deflate\r\n"
            b"connection: keep-alive\r\n"
            b"servicebusnotification-format: template\r\n"
            b"user-agent: NHub/2020-06\r\n"
            b"trackingid: t-1\r\n"
            b"content-length: 9\r\n"
            b"\r\n"
            b'{"a":"b"}'
        )

    def test_a_bodyless_delete_says_content_length_0(self) -> None:
        assert encode(request("DELETE", content=None)).endswith(
            b"user-agent: NHub/2020-06\r\nContent-Length: 0\r\n\r\n"
        )

    @pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "TRACE"])
    def test_a_bodyless_get_has_no_content_length(self, method: str) -> None:
        assert b"content-length" not in encode(request(method, content=None)).lower()

    def test_a_chunked_request_sends_its_body_as_one_chunk(self) -> None:
        built = request(content=None, **{"Transfer-Encoding": "chunked"})
        assert encode(built, b"hello").endswith(b"transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        assert encode(built, b"").endswith(b"transfer-encoding: chunked\r\n\r\n0\r\n\r\n")

    @pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\rb"])
    def test_a_line_break_in_a_header_value_is_refused(self, value: str) -> None:
        built = request(**{"ServiceBusNotification-Tags": value})
        with pytest.raises(httpx.LocalProtocolError):
            request_head(built, built.content)

    @pytest.mark.parametrize("body", [b"ab", b"abcd"])
    def test_a_body_that_does_not_match_its_content_length_is_refused(self, body: bytes) -> None:
        built = request(content=None, **{"Content-Length": "3"})
        with pytest.raises(httpx.LocalProtocolError):
            encode(built, body)


class TestReceive:
    def test_reads_status_headers_as_received_and_the_body(self) -> None:
        assert answer(
            b"HTTP/1.1 201 Created\r\nLocation: http://x/h/messages/1\r\nTrackingId:  t \r\nContent-Length: 2\r\n\r\nok"
        ) == Answer(
            201,
            [(b"Location", b"http://x/h/messages/1"), (b"TrackingId", b"t"), (b"Content-Length", b"2")],
            b"ok",
            keep_alive=True,
        )

    def test_waits_for_the_whole_answer_however_it_is_sliced(self) -> None:
        raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        connection = sent()
        results = [connection.receive(raw[index : index + 1]) for index in range(len(raw))]
        assert results[:-1] == [None] * (len(raw) - 1)
        assert results[-1] == Answer(200, [(b"Transfer-Encoding", b"chunked")], b"hello world", keep_alive=True)

    def test_interim_1xx_answers_are_skipped(self) -> None:
        result = answer(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        assert result is not None
        assert result.status == 201

    def test_switching_protocols_unasked_is_a_protocol_error(self) -> None:
        with pytest.raises(httpx.RemoteProtocolError):
            answer(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")

    def test_switching_protocols_even_when_asked_is_a_protocol_error(self) -> None:
        """Nothing here speaks another protocol, so an Upgrade the caller asked for is refused, not waited on."""
        connection = sent("GET", Upgrade="websocket", Connection="Upgrade")
        with pytest.raises(httpx.RemoteProtocolError, match="switched protocols"):
            connection.receive(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")

    def test_the_answer_to_head_has_no_body_whatever_its_length_says(self) -> None:
        assert answer(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", method="HEAD") == Answer(
            200, [(b"Content-Length", b"10")], b"", keep_alive=True
        )

    def test_a_body_without_length_ends_with_the_connection(self) -> None:
        connection = sent("GET")
        assert connection.receive(b"HTTP/1.1 200 OK\r\n\r\npart one, ") is None
        assert connection.receive(b"part two") is None
        assert connection.receive_eof() == Answer(200, [], b"part one, part two", keep_alive=False)

    @pytest.mark.parametrize(
        "raw",
        [
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy",
        ],
    )
    def test_the_connection_is_not_reused_after_close_http_1_0_or_extra_bytes(self, raw: bytes) -> None:
        result = answer(raw)
        assert result is not None
        assert not result.keep_alive

    def test_a_connection_closed_before_any_answer_is_a_protocol_error(self) -> None:
        connection = sent()
        connection.receive(b"HTTP/1.1 200 OK\r\n")
        with pytest.raises(httpx.RemoteProtocolError, match="without answering"):
            connection.receive_eof()

    def test_a_connection_closed_mid_body_is_a_protocol_error(self) -> None:
        connection = sent()
        connection.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
        with pytest.raises(httpx.RemoteProtocolError):
            connection.receive_eof()

    @pytest.mark.parametrize(
        "raw",
        [
            b"HTTP/1.1 OK\r\n\r\n",
            b"garbage\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ],
    )
    def test_malformed_answers_are_httpx_protocol_errors(self, raw: bytes) -> None:
        with pytest.raises(httpx.RemoteProtocolError):
            answer(raw)

    def test_a_head_may_be_up_to_64_kib_however_it_arrives(self) -> None:
        """Larger than h11's default limit of 16 KiB, as the transport allowed before."""
        connection = sent()
        assert connection.receive(b"HTTP/1.1 200 OK\r\nX: " + b"a" * (MAX_HEAD_BYTES - 100)) is None
        result = connection.receive(b"\r\nContent-Length: 0\r\n\r\n")
        assert result is not None
        assert result.status == 200

    def test_a_head_without_end_is_refused_once_larger_than_64_kib(self) -> None:
        connection = sent()
        assert connection.receive(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 100) is None
        with pytest.raises(httpx.RemoteProtocolError):
            connection.receive(b"a" * MAX_HEAD_BYTES)


class TestReuse:
    def test_after_a_kept_alive_answer_the_connection_carries_the_next_request(self) -> None:
        connection = sent()
        assert connection.receive(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n") is not None
        built = request("GET", content=None)
        assert connection.send(request_head(built, b""), b"").startswith(b"GET /hub/messages")
        assert connection.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc") == Answer(
            200, [(b"Content-Length", b"3")], b"abc", keep_alive=True
        )

    def test_a_connection_not_kept_alive_refuses_another_request(self) -> None:
        """The transport closes such a connection; sending on it anyway fails instead of desynchronising."""
        connection = sent()
        assert connection.receive(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n") is not None
        built = request()
        with pytest.raises(httpx.LocalProtocolError):
            connection.send(request_head(built, built.content), built.content)
