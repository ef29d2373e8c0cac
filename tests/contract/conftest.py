"""Fixtures of the contract tier: the NH client over a scripted hub (tests/contract/fake_hub.py), a fake timer."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from shared.notification_hubs import NotificationHubsClient, RetryPolicy
from tests.contract.fake_hub import CONNECTION_STRING, NOW, FakeHub
from tests.fakes import FakeTimer

ClientFor = Callable[..., NotificationHubsClient]


@pytest.fixture
def timer() -> FakeTimer:
    """The client's sleep and monotonic clock: retries record their delays and never wait."""
    return FakeTimer()


@pytest.fixture
def client_for(timer: FakeTimer) -> Iterator[ClientFor]:
    """``client_for(hub, retry=None)``: an NH client for hub ``myhub`` whose requests the FakeHub ``hub`` answers.

    The clock stands at NOW; retries (4 attempts from 0.5 s, no jitter, unless ``retry`` says otherwise) sleep
    on ``timer``.
    """
    clients: list[tuple[NotificationHubsClient, httpx.AsyncClient]] = []

    def make(hub: FakeHub, retry: RetryPolicy | None = None) -> NotificationHubsClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(hub))
        client = NotificationHubsClient(
            CONNECTION_STRING,
            "myhub",
            http_client=http,
            retry=retry or RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=10.0, total_budget=20.0, jitter=0.0),
            clock=lambda: NOW,
            sleep=timer.sleep,
            monotonic=timer.monotonic,
        )
        clients.append((client, http))
        return client

    yield make
    for _, http in clients:
        assert not http.is_closed  # the client never closes an AsyncClient it was given
