"""The phone page in Debian's headless Chromium (Playwright, never a downloaded browser): "Open app" on Anna's phone
connects Microsoft's official client (served from node_modules) through the app's /api/negotiate; the approval
appears inside the app and is confirmed seen, so no push follows; with the app closed the next one is a push.
The README's screenshot docs/realtime-phones.png is taken here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.api_client import ApiClient, event
from tests.support.notifications import notification_of
from tests.support.stack import ROOT, Stack, poll, running_stack, settle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def phones_stack(azurite_tables: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(azurite_tables, tmp_path_factory.mktemp("phone-page")) as stack:
        yield stack


@pytest.fixture(scope="module")
def fresh(phones_stack: Stack) -> Iterator[ApiClient]:
    with httpx.Client(timeout=30) as http:
        yield ApiClient(phones_stack.api, phones_stack.emulator, http)


def approval(request_id: str) -> dict[str, Any]:
    return event(
        "finance.budget_approval.requested", "/lob/finance", requestId=request_id, approverId="anna",
        requesterId="jorge", requesterName="Jorge Ruiz", amount="1234.50", currency="EUR", purpose="Team offsite",
    )  # fmt: skip


def test_open_app_shows_in_app_notifications_and_a_closed_app_gets_the_push(
    fresh: ApiClient, phones_stack: Stack, browser: Browser
):

    assert fresh.register("anna", "anna-iphone", platform="apns", pushChannel="a1" * 32, language="de-DE").is_success
    jorge = fresh.register("jorge", "jorge-pixel", platform="fcmv1", pushChannel="fcm_jorge_" + "x" * 30, language="es")
    assert jorge.is_success
    page = browser.new_page(viewport={"width": 1280, "height": 760})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(fresh.emulator)
    anna = page.locator('[data-installation-id="anna-iphone"]')
    anna.locator(".app-toggle").click()
    expect(anna.locator(".app-state")).to_have_text("open", timeout=15_000)

    first = approval("BR-1")
    assert fresh.publish(first).status_code == 202
    note = anna.locator(f'.inapp-note[data-notification-id="{notification_of(first)}"]')
    expect(note).to_contain_text("Freigabe erforderlich", timeout=15_000)
    expect(note).to_contain_text("seen ✓", timeout=10_000)
    settle(phones_stack)  # its fallback came due and was settled: a confirmed notification is not pushed
    assert fresh.inbox("anna-iphone") == []

    anna.locator(".app-toggle").click()
    expect(anna.locator(".app-toggle")).to_have_text("Open app")
    second = approval("BR-2")
    fresh.publish(second)
    [push] = poll(lambda: fresh.inbox("anna-iphone"), until=lambda inbox: len(inbox) == 1)
    assert notification_of(second) in push["payload"]
    expect(anna.locator(".note .title").first).to_have_text("Freigabe erforderlich", timeout=10_000)

    anna.locator(".app-toggle").click()  # open again for the screenshot: in-app and push side by side
    expect(anna.locator(".app-state")).to_have_text("open", timeout=15_000)
    third = approval("BR-3")
    fresh.publish(third)
    expect(anna.locator(f'.inapp-note[data-notification-id="{notification_of(third)}"]')).to_contain_text("seen ✓")
    # the reopened app lists what came while it was closed from the inbox: the pushed one
    pushed = anna.locator(f'.inapp-note[data-notification-id="{notification_of(second)}"]')
    expect(pushed).to_contain_text("inbox · push")
    page.screenshot(path=str(ROOT / "docs" / "realtime-phones.png"))
    assert errors == []
    assert Path(ROOT / "docs" / "realtime-phones.png").stat().st_size > 10_000
