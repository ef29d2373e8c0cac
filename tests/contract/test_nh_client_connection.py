"""The NH client's connection handling: one AsyncClient, explicit timeouts, closing, cached SAS tokens, secrets."""

from __future__ import annotations

import httpx
import pytest

from shared.notification_hubs import (
    NhConfigurationError,
    NotificationHubsClient,
    template_notification,
)
from tests.contract.fake_hub import (
    CONNECTION_STRING,
    KEY,
    FakeHub,
    created,
    installation,
    nh_reply,
)

pytestmark = pytest.mark.contract


class TestConnectionHandling:
    async def test_one_async_client_serves_every_call(self, client_for) -> None:
        hub = FakeHub(nh_reply(200), nh_reply(204), created())
        client = client_for(hub)
        await client.create_or_update_installation(installation())
        await client.delete_installation("inst-1")
        await client.send(template_notification({"a": "b"}))
        assert len(hub.requests) == 3

    async def test_every_request_carries_the_explicit_timeout(self, timer) -> None:
        hub = FakeHub(nh_reply(204))
        timeout = httpx.Timeout(3.0, connect=1.0)
        async with httpx.AsyncClient(transport=httpx.MockTransport(hub)) as http:
            client = NotificationHubsClient(CONNECTION_STRING, "myhub", http_client=http, timeout=timeout)
            await client.delete_installation("inst-1")
        assert hub.last.extensions["timeout"] == timeout.as_dict()

    async def test_aclose_closes_only_an_http_client_it_created(self) -> None:
        async with NotificationHubsClient(CONNECTION_STRING, "myhub") as owned:
            pass
        assert owned._http.is_closed
        given = httpx.AsyncClient()
        await NotificationHubsClient(CONNECTION_STRING, "myhub", http_client=given).aclose()
        assert not given.is_closed
        await given.aclose()

    async def test_sas_tokens_are_cached_across_requests(self, client_for) -> None:
        hub = FakeHub(nh_reply(204))
        client = client_for(hub)
        await client.delete_installation("a")
        await client.delete_installation("b")
        assert hub.requests[0].headers["Authorization"] == hub.requests[1].headers["Authorization"]

    async def test_the_key_never_shows_in_the_client_repr(self) -> None:
        async with NotificationHubsClient(CONNECTION_STRING, "myhub") as client:
            assert KEY not in repr(client)
            assert KEY not in repr(vars(client))

    @pytest.mark.parametrize("hub_name", ["", "/hub", "hub/", "my hub", "hub?x"])
    def test_a_bad_hub_name_is_a_configuration_error(self, hub_name: str) -> None:
        with pytest.raises(NhConfigurationError):
            NotificationHubsClient(CONNECTION_STRING, hub_name)
