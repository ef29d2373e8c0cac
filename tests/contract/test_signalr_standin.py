"""The SignalR Service stand-in against the protocol (SIGNALR.md): Microsoft's official client connects unchanged;
the app's REST adapter speaks to it; JWT checks, the JSON hub protocol, groups, CORS and faults behave as documented."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from local.signalr.config import WELL_KNOWN_ACCESS_KEY, StandInConfig
from local.signalr.testing import RunningStandIn, serving
from shared.adapters.signalr import SignalRGateway, parse_connection_string
from shared.domain.errors import UpstreamUnavailableError
from shared.notification_hubs.http_client import new_http_client

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
LISTENER = ROOT / "tests" / "support" / "node" / "signalr_listener.cjs"
RS = "\x1e"


@pytest.fixture(scope="module")
def stand_in() -> Iterator[RunningStandIn]:
    with serving(StandInConfig(ping_interval=0.3, client_timeout=2.0, handshake_timeout=1.0)) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(stand_in: RunningStandIn) -> None:
    httpx.delete(f"{stand_in.base_url}/_signalr/state").raise_for_status()
    httpx.delete(f"{stand_in.base_url}/_signalr/faults").raise_for_status()


@pytest.fixture
async def gateway(stand_in: RunningStandIn):
    # The client the app wires for SignalR (shared.composition.wiring), not httpx's default one.
    async with new_http_client(httpx.Timeout(1.0)) as http:
        yield SignalRGateway(parse_connection_string(stand_in.connection_string), "notifications", http)


def client_token(user: str, *, hub: str = "notifications", key: str = WELL_KNOWN_ACCESS_KEY, ttl: int = 600) -> str:
    claims = {"aud": f"http://127.0.0.1/client/?hub={hub}", "exp": int(time.time()) + ttl, "asrs.s.uid": user}
    return jwt.encode(claims, key.encode(), algorithm="HS256")


async def negotiated(stand_in: RunningStandIn, token: str) -> dict:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{stand_in.base_url}/client/negotiate",
            params={"hub": "notifications", "negotiateVersion": "1"},
            headers={"Authorization": f"Bearer {token}"},
        )
    response.raise_for_status()
    return dict(response.json())


async def open_socket(stand_in: RunningStandIn, user: str):
    token = client_token(user)
    info = await negotiated(stand_in, token)
    url = f"ws://127.0.0.1:{stand_in.port}/client/?hub=notifications&id={info['connectionToken']}&access_token={token}"
    socket = await connect(url)
    await socket.send(json.dumps({"protocol": "json", "version": 1}) + RS)
    assert await socket.recv() == "{}" + RS
    return socket, info


async def next_message(socket, *, skip_pings: bool = True) -> dict:
    while True:
        for part in str(await asyncio.wait_for(socket.recv(), 5)).split(RS):
            if part and not (skip_pings and json.loads(part).get("type") == 6):
                return dict(json.loads(part))


class TestOfficialClient:
    async def test_the_official_client_connects_and_receives_what_the_app_sends_to_its_user(self, stand_in, gateway):
        process = await asyncio.create_subprocess_exec(
            "node", str(LISTENER), "--url", f"{stand_in.base_url}/client/?hub=notifications",
            "--token", client_token("anna"), "--count", "1", "--timeout", "20",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        try:
            assert json.loads(await asyncio.wait_for(process.stdout.readline(), 15))["event"] == "connected"
            assert await gateway.is_connected("anna") is True
            assert await gateway.is_connected("bob") is False
            await gateway.send_to_user("bob", "notification", [{"id": "not-for-anna"}])
            await gateway.send_to_user("anna", "notification", [{"id": "n-1", "title": "Hallo"}])
            received = json.loads(await asyncio.wait_for(process.stdout.readline(), 15))
            assert received["arguments"] == [{"id": "n-1", "title": "Hallo"}]
            assert await asyncio.wait_for(process.wait(), 10) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert await gateway.is_connected("anna") is False


class TestTokens:
    @pytest.mark.parametrize(
        "token",
        [
            client_token("anna", key="not-the-key-" * 4),
            client_token("anna", ttl=-60),
            client_token("anna", hub="otherhub"),
            "not-a-jwt",
        ],
        ids=["bad-signature", "expired", "other-hub", "garbage"],
    )
    async def test_negotiate_refuses_a_bad_client_token(self, stand_in, token):
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{stand_in.base_url}/client/negotiate?hub=notifications&negotiateVersion=1",
                headers={"Authorization": f"Bearer {token}"},
            )
        assert response.status_code == 401

    async def test_rest_refuses_a_token_for_another_url_and_a_missing_token(self, stand_in):
        url = f"{stand_in.base_url}/api/hubs/notifications/users/anna"
        other = jwt.encode(
            {"aud": f"{stand_in.base_url}/api/hubs/notifications/users/bob", "exp": int(time.time()) + 60},
            WELL_KNOWN_ACCESS_KEY.encode(),
            algorithm="HS256",
        )
        async with httpx.AsyncClient() as http:
            wrong = await http.head(
                url, params={"api-version": "2022-06-01"}, headers={"Authorization": f"Bearer {other}"}
            )
            missing = await http.head(url, params={"api-version": "2022-06-01"})
        assert (wrong.status_code, missing.status_code) == (401, 401)

    async def test_a_socket_for_an_unknown_connection_is_refused_with_404(self, stand_in):
        token = client_token("anna")
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"ws://127.0.0.1:{stand_in.port}/client/?hub=notifications&id=nope&access_token={token}")
        assert refused.value.response.status_code == 404

    async def test_a_connection_token_cannot_be_used_by_another_user(self, stand_in):
        info = await negotiated(stand_in, client_token("anna"))
        url = (
            f"ws://127.0.0.1:{stand_in.port}/client/?hub=notifications&id={info['connectionToken']}"
            f"&access_token={client_token('mallory')}"
        )
        with pytest.raises(InvalidStatus) as refused:
            await connect(url)
        assert refused.value.response.status_code == 404


class TestHubProtocol:
    async def test_negotiate_offers_websockets_with_a_connection_token(self, stand_in):
        info = await negotiated(stand_in, client_token("anna"))
        assert info["negotiateVersion"] == 1
        assert info["connectionToken"] != info["connectionId"]
        assert info["availableTransports"] == [{"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}]

    async def test_an_unsupported_protocol_gets_a_handshake_error(self, stand_in):
        token = client_token("anna")
        info = await negotiated(stand_in, token)
        url = f"ws://127.0.0.1:{stand_in.port}/client/?hub=notifications&id={info['connectionToken']}&access_token={token}"
        async with connect(url) as socket:
            await socket.send(json.dumps({"protocol": "messagepack", "version": 1}) + RS)
            answer = json.loads(str(await socket.recv()).rstrip(RS))
        assert "error" in answer

    async def test_the_server_pings_and_closes_a_silent_client(self, stand_in):
        socket, _ = await open_socket(stand_in, "anna")
        async with socket:
            kinds = []
            while 7 not in kinds:
                kinds.append((await next_message(socket, skip_pings=False))["type"])
        assert kinds.count(6) >= 2  # 0.3 s pings, closed after 2 s without a message from the client
        assert kinds[-1] == 7

    async def test_delete_connection_closes_it_with_a_close_message(self, stand_in, gateway):
        socket, info = await open_socket(stand_in, "anna")
        async with socket:
            url = f"{stand_in.base_url}/api/hubs/notifications/connections/{info['connectionId']}"
            await rest(stand_in, "DELETE", url)
            assert (await next_message(socket))["type"] == 7
        assert await gateway.is_connected("anna") is False

    async def test_client_invocations_get_an_error_completion_in_serverless_mode(self, stand_in):
        socket, _ = await open_socket(stand_in, "anna")
        async with socket:
            await socket.send(json.dumps({"type": 1, "invocationId": "7", "target": "hello", "arguments": []}) + RS)
            completion = await next_message(socket)
        assert (completion["type"], completion["invocationId"]) == (3, "7")
        assert completion["error"]


async def local(stand_in: RunningStandIn, method: str, path: str, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        response = await http.request(method, f"{stand_in.base_url}/_signalr/{path}", **kwargs)
    response.raise_for_status()
    return response


async def rest(stand_in: RunningStandIn, method: str, url: str, **kwargs) -> httpx.Response:
    token = jwt.encode({"aud": url, "exp": int(time.time()) + 60}, WELL_KNOWN_ACCESS_KEY.encode(), algorithm="HS256")
    async with httpx.AsyncClient() as http:
        return await http.request(
            method, url, params={"api-version": "2022-06-01"}, headers={"Authorization": f"Bearer {token}"}, **kwargs
        )


class TestRestApi:
    async def test_user_groups_reach_the_users_connections_and_answer_head(self, stand_in):
        base = f"{stand_in.base_url}/api/hubs/notifications"
        socket, _ = await open_socket(stand_in, "anna")
        async with socket:
            assert (await rest(stand_in, "HEAD", f"{base}/groups/approvers")).status_code == 404
            assert (await rest(stand_in, "PUT", f"{base}/users/anna/groups/approvers")).status_code == 200
            assert (await rest(stand_in, "HEAD", f"{base}/users/anna/groups/approvers")).status_code == 200
            assert (await rest(stand_in, "HEAD", f"{base}/groups/approvers")).status_code == 200
            body = {"target": "notification", "arguments": [{"id": "g-1"}]}
            assert (await rest(stand_in, "POST", f"{base}/groups/approvers/:send", json=body)).status_code == 202
            assert (await next_message(socket))["arguments"] == [{"id": "g-1"}]
            assert (await rest(stand_in, "DELETE", f"{base}/users/anna/groups")).status_code == 204
            assert (await rest(stand_in, "HEAD", f"{base}/groups/approvers")).status_code == 404

    async def test_a_send_to_a_connection_reaches_that_connection_only(self, stand_in):
        base = f"{stand_in.base_url}/api/hubs/notifications"
        first, info = await open_socket(stand_in, "anna")
        second, _ = await open_socket(stand_in, "anna")
        async with first, second:
            body = {"target": "notification", "arguments": ["one"]}
            url = f"{base}/connections/{info['connectionId']}/:send"
            assert (await rest(stand_in, "POST", url, json=body)).status_code == 202
            assert (await next_message(first))["arguments"] == ["one"]
            assert (await rest(stand_in, "POST", f"{base}/connections/gone/:send", json=body)).status_code == 202
        logged = (await local(stand_in, "GET", "messages")).json()
        assert [(m["scope"], m["connections"]) for m in logged[-2:]] == [("connection", 1), ("connection", 0)]

    async def test_broadcast_reaches_every_connection_and_is_logged(self, stand_in):
        base = f"{stand_in.base_url}/api/hubs/notifications"
        first, _ = await open_socket(stand_in, "anna")
        second, _ = await open_socket(stand_in, "bob")
        async with first, second:
            body = {"target": "notification", "arguments": ["all"]}
            assert (await rest(stand_in, "POST", f"{base}/:send", json=body)).status_code == 202
            assert (await next_message(first))["arguments"] == ["all"]
            assert (await next_message(second))["arguments"] == ["all"]
        [logged] = (await local(stand_in, "GET", "messages")).json()
        assert (logged["scope"], logged["connections"]) == ("all", 2)

    async def test_a_send_without_target_is_refused_and_api_version_is_required(self, stand_in):
        url = f"{stand_in.base_url}/api/hubs/notifications/users/anna/:send"
        assert (await rest(stand_in, "POST", url, json={"arguments": []})).status_code == 400
        async with httpx.AsyncClient() as http:
            assert (await http.post(url, json={"target": "x"})).status_code == 400


class TestFaultsAndCors:
    async def test_down_makes_the_adapter_raise_unavailable(self, stand_in, gateway):
        await local(stand_in, "POST", "faults", json={"rules": [{"surface": "rest", "status": 503}]})
        with pytest.raises(UpstreamUnavailableError):
            await gateway.is_connected("anna")

    async def test_slow_past_the_adapters_timeout_makes_it_raise_unavailable(self, stand_in, gateway):
        await local(stand_in, "POST", "faults", json={"rules": [{"surface": "rest", "latency": 1.5}]})
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailableError):
            await gateway.send_to_user("anna", "notification", [{}])
        assert time.monotonic() - started < 1.4

    async def test_negotiate_preflight_echoes_the_origin_with_credentials(self, stand_in):
        async with httpx.AsyncClient() as http:
            response = await http.options(
                f"{stand_in.base_url}/client/negotiate?hub=notifications&negotiateVersion=1",
                headers={
                    "Origin": "http://127.0.0.1:9099",
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization,x-signalr-user-agent",
                },
            )
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == "http://127.0.0.1:9099"
        assert response.headers["access-control-allow-credentials"] == "true"
        assert "authorization" in response.headers["access-control-allow-headers"]


class StandInEntraCredential:
    """A test credential in place of the managed identity: tokens for the SignalR scope, signed with the stand-in's
    key (the stand-in accepts those where Azure would check Entra's signature)."""

    def __init__(self, fail: bool = False) -> None:
        self.scopes: list[str] = []
        self.fail = fail

    async def get_token(self, *scopes: str, **_kwargs: object) -> AccessToken:
        self.scopes.extend(scopes)
        if self.fail:
            raise ClientAuthenticationError("no identity endpoint here")
        expires = int(time.time()) + 600
        claims = {"aud": "https://signalr.azure.com", "exp": expires}
        return AccessToken(jwt.encode(claims, WELL_KNOWN_ACCESS_KEY.encode(), algorithm="HS256"), expires)

    async def close(self) -> None:
        return None


class TestManagedIdentity:
    async def test_with_an_identity_the_client_token_comes_from_generate_token_and_works(self, stand_in):
        credential = StandInEntraCredential()
        async with new_http_client(httpx.Timeout(2.0)) as http:
            gateway = SignalRGateway.with_identity(stand_in.base_url, credential, "notifications", http)
            info = await gateway.client_connection("anna")
            assert credential.scopes == ["https://signalr.azure.com/.default"]
            claims = jwt.decode(info.access_token, options={"verify_signature": False})
            assert claims["asrs.s.uid"] == "anna"
            process = await asyncio.create_subprocess_exec(
                "node", str(LISTENER), "--url", info.url, "--token", info.access_token, "--count", "1",
                "--timeout", "20", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert process.stdout is not None
            try:
                assert json.loads(await asyncio.wait_for(process.stdout.readline(), 15))["event"] == "connected"
                assert await gateway.is_connected("anna") is True
                await gateway.send_to_user("anna", "notification", [{"id": "mi-1"}])
                received = json.loads(await asyncio.wait_for(process.stdout.readline(), 15))
                assert received["arguments"] == [{"id": "mi-1"}]
            finally:
                if process.returncode is None:
                    process.kill()
                await process.wait()

    async def test_no_entra_token_means_unavailable_so_the_app_pushes(self, stand_in):
        async with new_http_client(httpx.Timeout(2.0)) as http:
            gateway = SignalRGateway.with_identity(
                stand_in.base_url, StandInEntraCredential(fail=True), "notifications", http
            )
            with pytest.raises(UpstreamUnavailableError):
                await gateway.is_connected("anna")
