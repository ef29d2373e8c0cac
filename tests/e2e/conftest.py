"""End-to-end tier: Azurite, the NH emulator and the dev host as processes, driven over real HTTP."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.api_client import WNS, ApiClient, People, fcm_token
from tests.support.stack import Stack, running_stack

CHROMIUM = "/usr/bin/chromium"  # Debian's package: never a browser Playwright downloads
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Chromium driven by Playwright, closed after the test."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip("Debian's chromium is not installed (CI installs it)")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="package")
def stack(azurite_tables: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for every module that does not need one of its own: starting one costs seconds, and tests on it
    use ids of their own (unique users, devices, departments, event ids), so they never observe each other."""
    workdir: Path = tmp_path_factory.mktemp("e2e")
    with running_stack(azurite_tables, workdir) as running:
        yield running


@pytest.fixture
def client(stack: Stack) -> Iterator[ApiClient]:
    with httpx.Client(timeout=30) as http:
        http.delete(f"{stack.emulator}_emulator/faults").raise_for_status()
        yield ApiClient(stack.api, stack.emulator, http)


@pytest.fixture
def people(client: ApiClient) -> People:
    suffix = uuid.uuid4().hex[:8]
    people = People(f"alice{suffix}", f"bob{suffix}", f"carol{suffix}")
    registrations = [
        (
            people.alice,
            {
                "platform": "apns",
                "pushChannel": uuid.uuid4().hex * 2,
                "language": "de-DE",
                "interests": ["hr", "finance"],
            },
        ),
        (people.bob, {"platform": "fcmv1", "pushChannel": fcm_token(), "language": "es-ES", "interests": ["hr"]}),
        (people.carol, {"platform": "wns", "pushChannel": f"{WNS}{suffix}", "language": "en-GB"}),
    ]
    for user, body in registrations:
        response = client.register(user, people.devices[user], **body)
        assert response.status_code == 200, response.text
    return people
