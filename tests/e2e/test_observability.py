"""The running stack, observed from outside: a posted event's W3C trace id in the function's log lines and on the
request NH received, and the operator console in Debian's headless Chromium (search a user, see a suppressed debit
with its reason, replay a quarantined event). The console screenshot in docs/ is taken here."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from tests.e2e.api_client import ApiClient, event
from tests.support.stack import ROOT, Stack, poll, running_stack

pytestmark = pytest.mark.e2e

ADMIN = {"X-Dev-User": "ops", "X-Dev-Roles": "push.admin"}


@pytest.fixture(scope="module")
def fresh(azurite_tables: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, ApiClient]]:
    workdir = tmp_path_factory.mktemp("observability")
    with (
        running_stack(azurite_tables, workdir, PUSH_TELEMETRY_FILE=str(workdir / "spans.jsonl")) as stack,
        httpx.Client(timeout=30) as http,
    ):
        yield stack, ApiClient(stack.api, stack.emulator, http)


def post(client: ApiClient, cloud_event: dict, **headers: str) -> httpx.Response:
    return client.http.post(
        f"{client.api}/events",
        headers={"X-Dev-User": "erp", "X-Dev-Roles": "lob.publisher", "Content-Type": "application/cloudevents+json",
                 **headers},
        content=json.dumps(cloud_event),
    )  # fmt: skip


def ledger(client: ApiClient, **params: str) -> list[dict]:
    response = client.http.get(f"{client.api}/deliveries", params=params, headers=ADMIN)
    response.raise_for_status()
    return list(response.json()["items"])


def test_the_trace_id_of_a_posted_event_is_in_the_functions_log_lines_and_on_the_nh_request(fresh):
    stack, client = fresh
    user = f"trace{uuid.uuid4().hex[:6]}"
    assert (
        client.register(user, f"{user}-phone", platform="apns", pushChannel="ef" * 32, language="en").status_code == 200
    )
    trace_id = uuid.uuid4().hex
    approval = event(
        "finance.budget_approval.requested", "/lob/finance", requestId="BR-9", approverId=user, requesterId="x",
        requesterName="X", amount="10.00", currency="EUR", purpose="trace",
    )  # fmt: skip
    assert post(client, approval, traceparent=f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01").status_code == 202

    [delivery] = poll(lambda: client.inbox(f"{user}-phone"), until=lambda inbox: len(inbox) == 1)
    record = client.http.get(f"{client.emulator}_emulator/notifications/{delivery['notificationId']}").json()
    assert record["trace_parent"].split("-")[1] == trace_id

    lines = poll(
        lambda: [line for line in stack.devhost.log.read_text().splitlines() if f"event_id={approval['id']}" in line],
        until=lambda found: any("sent event_id=" in line for line in found),
    )
    assert any("sent event_id=" in line for line in lines)
    assert all(f"trace_id={trace_id}" in line for line in lines), "\n".join(lines)
    [decision] = poll(lambda: ledger(client, eventId=approval["id"]), until=bool)
    assert decision["traceId"] == trace_id
    spans = stack.devhost.log.parent / "spans.jsonl"
    # The delivery log's and the ledger's writes go out without the SDK; their own CLIENT spans keep them visible
    # as dependencies.
    writes = {"Tables claim delivery", "Tables record decision", "Tables finish delivery"}
    expected = {"POST post_event", "publish finance", "deliver finance/push", "NH send", *writes}

    def traced() -> dict[str, dict[str, Any]]:
        text = spans.read_text() if spans.exists() else ""
        return {
            span["name"]: span for line in text.splitlines() if f"0x{trace_id}" in line for span in [json.loads(line)]
        }

    found = poll(traced, until=lambda named: expected <= set(named))
    assert expected <= set(found)
    for name in writes:
        assert found[name]["kind"] == "SpanKind.CLIENT"
        assert found[name]["attributes"]["http.response.status_code"] == 204


def test_an_operator_finds_a_suppressed_debit_and_replays_a_quarantined_event_in_the_console(
    fresh: tuple[Stack, ApiClient], browser: Browser
):
    stack, client = fresh
    assert client.register("alice", "alice-iphone", platform="apns", pushChannel="a1" * 32, language="en",
                           interests=["hr"]).status_code == 200  # fmt: skip
    debit = event(
        "accounts.debit.posted", "/lob/accounts", accountId="DE89-0001", ownerId="alice", amount="12.50",
        currency="EUR", merchant="Coffee Corner",
    )  # fmt: skip
    assert post(client, debit).status_code == 202
    poll(lambda: ledger(client, eventId=debit["id"]), until=bool)
    news = event("hr.employee.joined", "/lob/hr", employeeId="E-8", displayName="Jana Novák", team="Platform")
    assert post(client, news).status_code == 202
    poll(lambda: client.inbox("alice-iphone"), until=lambda inbox: len(inbox) == 1)
    # NH refuses the next send for good (the key was revoked): the approval is quarantined with the reason.
    client.faults({"seed": 1, "rules": [{"route": "send", "rate": 1.0, "status": 401}]})
    approval = event(
        "finance.budget_approval.requested", "/lob/finance", requestId="BR-7", approverId="alice", requesterId="bob",
        requesterName="Bob", amount="250.00", currency="EUR", purpose="Conference",
    )  # fmt: skip
    assert post(client, approval).status_code == 202
    poll(client.dead_letters, until=lambda items: any(i["messageId"] == approval["id"] for i in items))
    client.faults(None)
    poll(  # the in-process metric reader exports every 5 s
        lambda: client.http.get(f"{client.api}/console/summary", headers=ADMIN).json()["metrics"]["metrics"],
        until=lambda series: bool(series["push.decisions"]) and bool(series["push.dead_letters"]),
    )

    page = browser.new_page(viewport={"width": 1440, "height": 1100})
    page.goto(f"{stack.api}/console/signin")
    page.fill("#user", "ops")
    page.fill("#roles", "push.admin")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/api/console$"))
    page.wait_for_selector("#recent tbody tr")
    assert page.evaluate("typeof Chart") == "function"
    charted = page.evaluate("Chart.getChart('chart-decisions').data.datasets.map((d) => d.label)")
    assert {"sent · delivered", "suppressed · below_threshold", "quarantined · nh_rejected"} <= set(charted)

    page.fill("#search-input", "alice")
    page.click("#search-button")
    row = page.locator(f"#results tbody tr[data-event-id='{debit['id']}']")
    row.wait_for()
    assert (row.get_attribute("data-outcome"), row.get_attribute("data-reason")) == (
        "suppressed", "below_threshold",
    )  # fmt: skip
    assert "suppressed" in row.inner_text()
    page.locator(f"#broadcasts tbody tr[data-event-id='{news['id']}']").wait_for()

    quarantined = page.locator("#deadletters tbody tr", has_text=approval["id"])
    quarantined.locator("button.replay").click()
    page.wait_for_selector("text=replayed")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ROOT / "docs" / "console.png"), full_page=True)

    page.select_option("#search-kind", "eventId")
    page.fill("#search-input", debit["id"])
    page.click("#search-button")
    page.locator("#search-summary", has_text=f"1 decision(s) for event {debit['id']}").wait_for()
    by_event = page.locator("#results tbody tr")
    assert by_event.count() == 1
    assert by_event.first.get_attribute("data-event-id") == debit["id"]

    inbox = poll(lambda: client.inbox("alice-iphone"), until=lambda items: len(items) == 2)
    assert any(approval["id"] in json.dumps(item["payload"]) for item in inbox)
    [sent] = poll(
        lambda: ledger(client, eventId=approval["id"]), until=lambda items: items and items[0]["outcome"] == "sent"
    )
    assert sent["reason"] == "delivered"
