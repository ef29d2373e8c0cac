"""The README walkthrough on a fresh stack: two users register, LoB events arrive, the phone page shows them.
The screenshot in docs/ is taken here."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.api_client import ApiClient, event, payload_text
from tests.support.stack import ROOT, poll, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fresh(azurite_tables: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiClient]:
    with (
        running_stack(azurite_tables, tmp_path_factory.mktemp("walkthrough")) as stack,
        httpx.Client(timeout=30) as http,
    ):
        yield ApiClient(stack.api, stack.emulator, http)


def test_the_readme_walkthrough_delivers_to_the_right_phones(fresh: ApiClient, tmp_path: Path):
    anna = fresh.register(
        "anna", "anna-iphone", platform="apns", pushChannel="a1" * 32, language="de-DE", interests=["hr"]
    )
    jorge = fresh.register(
        "jorge", "jorge-pixel", platform="fcmv1", pushChannel="fcm_jorge_" + "x" * 30, language="es", interests=["hr"]
    )
    assert (anna.status_code, jorge.status_code) == (200, 200)
    approval = event(
        "finance.budget_approval.requested", "/lob/finance", requestId="BR-1", approverId="anna", requesterId="jorge",
        requesterName="Jorge Ruiz", amount="1234.50", currency="EUR", purpose="Team offsite",
    )  # fmt: skip
    news = event("hr.employee.joined", "/lob/hr", employeeId="E-7", displayName="Jana Novák", team="Platform")
    assert fresh.publish(approval).status_code == 202
    assert fresh.publish(news).status_code == 202

    anna_inbox = poll(lambda: fresh.inbox("anna-iphone"), until=lambda inbox: len(inbox) == 2)
    jorge_inbox = poll(lambda: fresh.inbox("jorge-pixel"), until=lambda inbox: len(inbox) == 1)
    assert sorted("Freigabe" in payload_text(d) for d in anna_inbox) == [False, True]
    assert "Nueva incorporación" in payload_text(jorge_inbox[0])

    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (CI installs it); no screenshot taken")
    target = ROOT / "docs" / "walkthrough.png"
    subprocess.run(
        [
            "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={target}", "--window-size=1280,760",
            "--virtual-time-budget=3000", fresh.emulator,
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    assert target.stat().st_size > 10_000
