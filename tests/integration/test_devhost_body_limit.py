"""The dev host's request size limit over a real socket: a declared length over the limit is refused before any
body byte is read, a chunked body is cut off at the limit, and neither reaches the function."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import azure.functions as func
import pytest
import uvicorn

from local.devhost.body_limit import DEFAULT_BODY_LIMIT, SETTING, request_body_limit
from local.devhost.functions import index_app
from local.devhost.http import create_http_app
from shared.domain.errors import ConfigError
from tests.support.azurite import free_port

pytestmark = pytest.mark.integration

LIMIT = 4096
CALLS: list[int] = []

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="size", methods=["POST"])
async def size(req: func.HttpRequest) -> func.HttpResponse:
    CALLS.append(len(req.get_body()))
    return func.HttpResponse(json.dumps({"bytes": len(req.get_body())}), mimetype="application/json")


@app.route(route="echo/{value}", methods=["GET"])
async def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(dict(req.route_params)), mimetype="application/json")


async def _no_admin(_name: str, _input: str) -> bool:
    return False


@dataclass
class Server:
    port: int

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return sock


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    http_app = create_http_app(index_app(app), route_prefix="api", run_admin=_no_admin, max_body_bytes=LIMIT)
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(http_app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uv.run, name="devhost-body-limit", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Server(port)
    finally:
        uv.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(autouse=True)
def _forget_calls() -> None:
    CALLS.clear()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of the body"
        body += chunk
    return int(status_line.split()[1]), headers, body


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


class TestDeclaredLength:
    def test_a_body_at_the_limit_reaches_the_function(self, server: Server):
        with server.connect() as sock:
            body = b"x" * LIMIT
            sock.sendall(b"POST /api/size HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % LIMIT + body)
            status, _, answer = read_response(sock)
        assert (status, json.loads(answer)) == (200, {"bytes": LIMIT})
        assert CALLS == [LIMIT]

    def test_a_length_over_the_limit_is_refused_before_any_body_byte_is_sent(self, server: Server):
        with server.connect() as sock:
            sock.sendall(b"POST /api/size HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000000\r\n\r\n")
            status, headers, answer = read_response(sock)  # no body byte was ever sent: the answer came at once
            assert closed_by_server(sock)
        problem = json.loads(answer)
        assert status == 413
        assert headers["content-type"] == "application/problem+json"
        assert problem["status"] == 413
        assert SETTING in problem["detail"]
        assert CALLS == []


class TestChunkedBody:
    @staticmethod
    def _chunk(data: bytes) -> bytes:
        return b"%x\r\n" % len(data) + data + b"\r\n"

    def test_a_chunked_body_within_the_limit_reaches_the_function(self, server: Server):
        with server.connect() as sock:
            sock.sendall(b"POST /api/size HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(4):
                sock.sendall(self._chunk(b"y" * (LIMIT // 4)))
            sock.sendall(b"0\r\n\r\n")
            status, _, answer = read_response(sock)
        assert (status, json.loads(answer)) == (200, {"bytes": LIMIT})

    def test_a_chunked_body_is_cut_off_at_the_limit_without_waiting_for_its_end(self, server: Server):
        with server.connect() as sock:
            sock.sendall(b"POST /api/size HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            sent = 0
            while sent <= LIMIT:  # never the last chunk: the server must answer in the middle of the body
                sock.sendall(self._chunk(b"z" * 1000))
                sent += 1000
            status, headers, answer = read_response(sock)
            assert closed_by_server(sock)
        assert status == 413
        assert headers["content-type"] == "application/problem+json"
        assert json.loads(answer)["title"] == "Payload too large"
        assert CALLS == []


class TestRouteValues:
    @pytest.mark.parametrize(
        ("path", "value"),
        [("a%2Fb", "a%2Fb"), ("a%2fb", "a%2fb"), ("a%20b", "a b"), ("%C3%BC%0A", "ü\n"), ("a%252Fb", "a%2Fb")],
    )
    def test_an_encoded_slash_stays_in_the_route_value_as_the_functions_host_keeps_it(
        self, server: Server, path: str, value: str
    ):
        with server.connect() as sock:
            sock.sendall(f"GET /api/echo/{path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            status, _, answer = read_response(sock)
        assert (status, json.loads(answer)) == (200, {"value": value})


class TestSetting:
    def test_unset_means_the_projects_limit(self):
        assert request_body_limit({}) == DEFAULT_BODY_LIMIT == 1024 * 1024

    def test_the_functions_host_setting_sets_it(self):
        assert request_body_limit({SETTING: "2048"}) == 2048

    @pytest.mark.parametrize("value", ["0", "-1", "1MB", "1e6"])
    def test_an_invalid_value_stops_the_host(self, value: str):
        with pytest.raises(ConfigError, match=SETTING):
            request_body_limit({SETTING: value})

    def test_the_http_app_reads_the_setting_when_not_given_one(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv(SETTING, "not a number")
        with pytest.raises(ConfigError, match=SETTING):
            create_http_app([], route_prefix="api", run_admin=_no_admin)
