"""The NH emulator's phone page, rendered by headless Chromium; the screenshot goes to docs/nh-emulator.png."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from local.nh_emulator.testing import authorization

pytestmark = pytest.mark.local

HUB = "enterprise-push"
VERSION = "?api-version=2020-06"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "nh-emulator.png"
TEMPLATE_HEADERS = {"ServiceBusNotification-Format": "template", "Content-Type": "application/json;charset=utf-8"}
APNS_ALERT = '{"aps":{"alert":{"title":"$(title_{lang})","body":"$(body_{lang})"}}}'
FCM_ALERT = '{"message":{"notification":{"title":"$(title_{lang})","body":"$(body_{lang})"}}}'
WNS_ALERT = (
    '<toast><visual><binding template="ToastGeneric"><text id="1">$(title_{lang})</text>'
    '<text id="2">$(body_{lang})</text></binding></visual></toast>'
)
SILENT = {
    "apns": '{"aps":{"content-available":1},"eventId":"$(eventId)"}',
    "fcmv1": '{"message":{"data":{"e":"$(eventId)"}}}',
}
PHONES = [
    ("iphone-anna", "apns", "anna", "en", APNS_ALERT, ["topic:hr", "topic:orders"]),
    ("pixel-bernd", "fcmv1", "bernd", "de", FCM_ALERT, ["topic:hr", "topic:finance"]),
    ("surface-carmen", "wns", "carmen", "es", WNS_ALERT, ["topic:hr"]),
]
PROPERTIES = {
    "title_en": "Welcome Anna",
    "body_en": "Your HR onboarding starts Monday.",
    "title_de": "Budget genehmigt",
    "body_de": "Ihr Antrag über 1.200 € wurde freigegeben.",
    "title_es": "Pedido enviado",
    "body_es": "Tu pedido 4711 está en camino.",
    "eventId": "evt-42",
}


def chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
        "--virtual-time-budget=3000",
    ]
    return subprocess.run([CHROMIUM, *flags, *arguments], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def populated_emulator(emulator_url: str) -> str:
    """The module's emulator with three phones and two sends delivered; its base URL."""
    with httpx.Client(base_url=f"{emulator_url}{HUB}/", headers=authorization(emulator_url)) as http:
        for installation_id, platform, user, lang, alert, tags in PHONES:
            templates: dict[str, dict[str, object]] = {"alert": {"body": alert.replace("{lang}", lang)}}
            if platform == "wns":
                templates["alert"]["headers"] = {"X-WNS-Type": "wns/toast"}
            if platform in SILENT:
                templates["silent"] = {"body": SILENT[platform]}
            body = {
                "installationId": installation_id,
                "platform": platform,
                "pushChannel": f"{platform}-handle-{user}",
                "userId": user,
                "tags": [f"lang:{lang}", *tags],
                "templates": templates,
            }
            http.put(f"installations/{installation_id}{VERSION}", json=body).raise_for_status()
        http.post(
            f"messages{VERSION}",
            content=json.dumps(PROPERTIES),
            headers={**TEMPLATE_HEADERS, "ServiceBusNotification-Tags": "topic:hr && alert"},
        ).raise_for_status()
        http.post(
            f"messages{VERSION}",
            content=json.dumps(PROPERTIES),
            headers={**TEMPLATE_HEADERS, "ServiceBusNotification-Tags": "silent"},
        ).raise_for_status()
    return emulator_url


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (CI installs the Debian package)")
class TestPhonePage:
    def test_page_shows_every_phone_with_its_rendered_notifications(self, populated_emulator, tmp_path):
        result = chromium("--dump-dom", populated_emulator, profile=tmp_path / "profile")
        assert result.returncode == 0, result.stderr[-2000:]
        dom = result.stdout
        for expected in (
            "iphone-anna",
            "pixel-bernd",
            "surface-carmen",
            "Welcome Anna",
            "Budget genehmigt",
            "Tu pedido 4711 está en camino.",
            "silent",
            "lang:de",
        ):
            assert expected in dom

    def test_screenshot_is_saved_to_docs(self, populated_emulator, tmp_path):
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.unlink(missing_ok=True)
        result = chromium(f"--screenshot={SCREENSHOT}", populated_emulator, profile=tmp_path / "profile")
        assert result.returncode == 0, result.stderr[-2000:]
        assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert SCREENSHOT.stat().st_size > 20_000
