"""HTTP/1.1 for the NH transport, without I/O: httpx requests into h11 events, and h11 events into answers.

h11 does the framing and parsing (RFC 9112); this module only adapts it to httpx and to the transport's pool.
"""

from __future__ import annotations

from typing import NamedTuple

import h11
import httpx

__all__ = ["MAX_HEAD_BYTES", "Answer", "Http11Connection", "request_head"]

MAX_HEAD_BYTES = 64 * 1024
# The methods aiohttp (the transport before this one) sent without a Content-Length when they had no body.
_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_FRAMING_HEADERS = frozenset({b"content-length", b"transfer-encoding"})


def request_head(request: httpx.Request, body: bytes) -> h11.Request:
    """h11's Request for ``request``: header names lower-cased, in httpx's order (h11 writes names as given).

    A body-less request other than GET/HEAD/OPTIONS/TRACE gets ``Content-Length: 0``, as before. Raises
    httpx.LocalProtocolError for a header h11 refuses, such as one whose value holds CR or LF.
    """
    headers = [(name.lower(), value) for name, value in request.headers.raw]
    if not body and request.method not in _BODYLESS_METHODS and not any(n in _FRAMING_HEADERS for n, _ in headers):
        headers.append((b"Content-Length", b"0"))
    try:
        return h11.Request(method=request.method, target=request.url.raw_path, headers=headers)
    except h11.LocalProtocolError as exc:
        raise httpx.LocalProtocolError(str(exc), request=request) from exc


class Answer(NamedTuple):
    """One complete response: status, header pairs as received, the body, and whether the connection can be reused."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    keep_alive: bool


class Http11Connection:
    """The h11 state of one connection: the bytes of each request, and its answer read from the bytes that follow.

    After an answer with ``keep_alive`` the connection is ready for the next request; after any other answer or
    error it is not, and its socket should be closed.
    """

    def __init__(self) -> None:
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self._head: h11.Response | None = None
        self._body: list[bytes] = []

    def send(self, head: h11.Request, body: bytes) -> bytes:
        """The bytes of a whole request. Raises httpx.LocalProtocolError if the body does not fit its framing."""
        try:
            message = self._h11.send(head)
            if body:
                message += self._h11.send(h11.Data(data=body))
            return message + self._h11.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc

    def receive(self, data: bytes) -> Answer | None:
        """Feeds bytes read; the answer once complete, else None. Interim 1xx answers are skipped.

        Raises httpx.RemoteProtocolError for a malformed answer.
        """
        self._h11.receive_data(data)
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is h11.NEED_DATA:
                return None
            if isinstance(event, h11.Response):
                self._head = event
            elif isinstance(event, h11.Data):
                self._body.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return self._answer()
            elif isinstance(event, h11.InformationalResponse) and event.status_code != 101:
                continue  # 100 Continue and the like come before the answer
            else:  # 101, or what h11 gives only after one (PAUSED): nothing here switches protocols
                raise httpx.RemoteProtocolError("the server switched protocols, which this transport does not support")

    def receive_eof(self) -> Answer:
        """The answer whose body ran until the server closed. Raises httpx.RemoteProtocolError if it is incomplete."""
        if self._head is None:
            raise httpx.RemoteProtocolError("the server closed the connection without answering")
        answer = self.receive(b"")  # h11 takes no bytes as the end of the stream
        if answer is None:  # h11 raises instead: once the bytes end, every event is complete or an error
            raise httpx.RemoteProtocolError("the server closed the connection in the middle of its answer")
        return answer

    def _answer(self) -> Answer:
        assert self._head is not None
        head, body = self._head, b"".join(self._body)
        self._head, self._body = None, []
        connection = self._h11
        # h11 leaves the states DONE after a body that ran until the connection closed, and after bytes past the
        # answer (the connection is out of step): neither connection can be reused.
        unread, closed = connection.trailing_data
        done = connection.our_state is h11.DONE and connection.their_state is h11.DONE
        keep_alive = done and not unread and not closed
        if keep_alive:
            connection.start_next_cycle()
        return Answer(head.status_code, head.headers.raw_items(), body, keep_alive)
