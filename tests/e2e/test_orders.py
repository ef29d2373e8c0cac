"""The order-processing app through the running stack (dev host, local bus, Azurite, NH emulator) over HTTP: an
order is placed, fulfilled through the orders topic with scheduled waits, and the customer's phone is told at each
step in their language, once. Also the shop page, clicked in headless Chromium (screenshot for the README)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, WebSocket

from tests.e2e.api_client import ApiClient, payload_text
from tests.support.stack import ROOT, Stack, poll, running_stack

pytestmark = pytest.mark.e2e

# Seconds, not the hours and days of Azure: the waits are settings.
FAST_ORDERS = {
    "ORDERS_SHIP_AFTER_SECONDS": "1",
    "ORDERS_DELIVER_AFTER_SECONDS": "1",
    "ORDERS_OUTBOX_SCHEDULE": "*/2 * * * * *",
}
MUG = {"sku": "MUG-01", "quantity": 2, "unitPrice": "12.50"}
STEPS = ["placed", "confirmed", "shipped", "delivered"]


@pytest.fixture(scope="module")
def order_stack(azurite_tables: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(azurite_tables, tmp_path_factory.mktemp("orders"), **FAST_ORDERS) as running:
        yield running


@pytest.fixture
def shop(order_stack: Stack) -> Iterator[ApiClient]:
    with httpx.Client(timeout=30) as http:
        yield ApiClient(order_stack.api, order_stack.emulator, http)


def place(client: ApiClient, user: str, items: list[dict[str, Any]], **headers: str) -> httpx.Response:
    return client.http.post(
        f"{client.api}/orders",
        headers={"X-Dev-User": user, **headers},
        json={"items": items, "currency": "EUR"},
    )


def read(client: ApiClient, user: str, order_id: str) -> httpx.Response:
    return client.http.get(f"{client.api}/orders/{order_id}", headers={"X-Dev-User": user})


def wait_until_final(client: ApiClient, user: str, order_id: str) -> dict[str, Any]:
    order: dict[str, Any] = poll(
        lambda: read(client, user, order_id).json(),
        until=lambda body: body.get("status") in ("delivered", "rejected"),
        timeout=40,
    )
    return order


def register_phone(client: ApiClient, user: str, language: str) -> str:
    device = f"{user}-phone"
    token = "fcm_" + uuid.uuid4().hex + "Z" * 20
    response = client.register(user, device, platform="fcmv1", pushChannel=token, language=language)
    assert response.status_code == 200, response.text
    return device


def told(client: ApiClient, device: str, order_id: str) -> list[str]:
    """The order's event ids as the phone received them, one entry per notification."""
    found = []
    for delivery in client.inbox(device):
        text = payload_text(delivery)
        found += [f"{order_id}:{step}" for step in [*STEPS, "rejected"] if f"{order_id}:{step}" in text]
    return found


class TestOrderFlow:
    def test_an_order_is_fulfilled_and_the_customer_told_at_each_step_once_in_their_language(self, shop: ApiClient):
        user = f"cust{uuid.uuid4().hex[:8]}"
        device = register_phone(shop, user, "es")
        response = place(shop, user, [MUG], **{"Idempotency-Key": str(uuid.uuid4())})
        assert response.status_code == 202, response.text
        order_id = response.json()["orderId"]
        assert response.headers["Location"] == f"/api/orders/{order_id}"

        order = wait_until_final(shop, user, order_id)
        assert [change["status"] for change in order["history"]] == STEPS
        expected = [f"{order_id}:{step}" for step in STEPS]
        received = poll(lambda: told(shop, device, order_id), until=lambda ids: len(ids) >= len(STEPS))
        assert sorted(received) == sorted(expected)  # each step once, the silent "placed" included
        texts = " ".join(payload_text(d) for d in shop.inbox(device))
        for title in ("Pedido confirmado", "Pedido enviado", "Pedido entregado"):
            assert title in texts

        assert read(shop, f"other{uuid.uuid4().hex[:6]}", order_id).status_code == 404
        mine = shop.http.get(f"{shop.api}/me/orders", headers={"X-Dev-User": user}).json()
        assert [o["orderId"] for o in mine["orders"]] == [order_id]

    def test_an_order_for_a_sku_not_on_the_list_is_accepted_then_rejected_and_the_customer_told_why(
        self, shop: ApiClient
    ):
        user = f"cust{uuid.uuid4().hex[:8]}"
        device = register_phone(shop, user, "de")
        response = place(shop, user, [{"sku": "GHOST-7", "quantity": 1, "unitPrice": "3.00"}])
        assert response.status_code == 202
        order = wait_until_final(shop, user, response.json()["orderId"])
        assert (order["status"], order["history"][-1]["reason"]) == ("rejected", "unknown_sku")
        received = poll(lambda: told(shop, device, order["orderId"]), until=lambda ids: len(ids) >= 2)
        assert sorted(received) == sorted(f"{order['orderId']}:{step}" for step in ("placed", "rejected"))
        assert "Bestellung abgelehnt" in " ".join(payload_text(d) for d in shop.inbox(device))

    def test_malformed_and_oversized_orders_are_4xx_problems(self, shop: ApiClient):
        for body, status in (
            (b'{"items": "many", "currency": "EUR"}', 400),
            (json.dumps({"items": [MUG], "currency": "EUR", "x": "y" * 20000}).encode(), 413),
            (b"\xff\xfe", 400),
        ):
            response = shop.http.post(
                f"{shop.api}/orders", headers={"X-Dev-User": "u1", "Content-Type": "application/json"}, content=body
            )
            assert response.status_code == status
            assert response.headers["content-type"].startswith("application/problem+json")


def record_order_reads(page: Page) -> list[str]:
    """The URLs of the page's GET /api/orders/{orderId} requests, as they happen."""
    reads: list[str] = []

    def on_request(request: Request) -> None:
        if request.method == "GET" and "/api/orders/" in request.url:
            reads.append(request.url)

    page.on("request", on_request)
    return reads


def notifications_in(frames: list[str]) -> list[dict[str, Any]]:
    """The ``notification`` invocations in SignalR JSON-protocol frames (records end with 0x1E)."""
    found = []
    for frame in frames:
        for record in filter(None, frame.split("\x1e")):
            message = json.loads(record)
            if message.get("type") == 1 and message.get("target") == "notification":
                found += message["arguments"]
    return found


class TestShopPage:
    def test_a_customer_places_an_order_by_clicking_and_sees_it_delivered_live(self, shop: ApiClient, browser: Browser):
        """The steps after "placed" reach the page over the WebSocket and no order is read over HTTP meanwhile;
        each step the page showed is confirmed seen, so the push fallback stays quiet."""
        user = f"shopper{uuid.uuid4().hex[:6]}"
        frames: list[str] = []
        errors: list[str] = []

        def on_websocket(socket: WebSocket) -> None:
            socket.on("framereceived", lambda payload: frames.append(payload if isinstance(payload, str) else ""))

        page = browser.new_page(viewport={"width": 1180, "height": 760})
        order_reads = record_order_reads(page)
        page.on("websocket", on_websocket)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{shop.api}/shop")
        page.fill("#user", user)
        page.click("#sign-in")
        page.wait_for_selector("#products tbody tr[data-sku='MUG-01']")
        page.wait_for_selector("#live[data-state='live']", timeout=15_000)
        page.fill("tr[data-sku='MUG-01'] input.qty", "2")
        page.fill("tr[data-sku='BOTTLE-04'] input.qty", "1")
        assert page.text_content("#total") == "43.75 EUR"
        page.click("#place-order")
        page.wait_for_selector("#order-status[data-status='delivered']", timeout=40_000)
        assert page.text_content("#message").endswith(" placed: 43.75 EUR.")  # the total the server computed
        steps = page.eval_on_selector_all("#history li", "items => items.map(i => i.dataset.status)")
        assert steps == STEPS
        order_id = page.text_content("#order-id")
        page.wait_for_selector(f"#my-orders li[data-order-id='{order_id}'][data-status='delivered']")
        page.screenshot(path=str(ROOT / "docs" / "shop.png"))

        assert order_reads == []  # no GET /api/orders/{id}: the POST's answer, then only the WebSocket
        live = [(m["type"], m["data"]["orderId"]) for m in notifications_in(frames)]
        assert live == [(f"orders.order.{step}", order_id) for step in STEPS[1:]]  # "placed" is push-only
        assert errors == []
        inbox = shop.http.get(f"{shop.api}/me/notifications", headers={"X-Dev-User": user}).json()["items"]
        seen = {item["type"]: bool(item["seenAt"]) for item in inbox}
        assert seen == {f"orders.order.{step}": step != "placed" for step in STEPS}  # what came live was seen
        [order] = shop.http.get(f"{shop.api}/me/orders", headers={"X-Dev-User": user}).json()["orders"]
        assert (order["orderId"], order["status"], order["total"]) == (order_id, "delivered", "43.75")
        assert (ROOT / "docs" / "shop.png").stat().st_size > 10_000

    def test_opening_an_order_reads_it_once_and_a_reconnect_catches_up_with_one_read(
        self, shop: ApiClient, order_stack: Stack, browser: Browser
    ):
        """What happened while no connection was open comes from one read of the order: when it is opened, and when
        the connection is back after SignalR dropped it."""
        user = f"shopper{uuid.uuid4().hex[:6]}"
        response = place(shop, user, [MUG])
        assert response.status_code == 202, response.text
        earlier = response.json()["orderId"]
        wait_until_final(shop, user, earlier)  # every step happened while no page was open
        page = browser.new_page()
        order_reads = record_order_reads(page)
        page.goto(f"{shop.api}/shop")
        page.fill("#user", user)
        page.click("#sign-in")
        page.wait_for_selector("#live[data-state='live']", timeout=15_000)
        page.click(f"#my-orders li[data-order-id='{earlier}'] a")
        page.wait_for_selector("#order-status[data-status='delivered']")
        assert page.eval_on_selector_all("#history li", "items => items.map(i => i.dataset.status)") == STEPS
        assert order_reads == [f"{shop.api}/orders/{earlier}"]

        shop.http.delete(f"{order_stack.signalr}/_signalr/state").raise_for_status()  # SignalR drops the page
        page.wait_for_selector("#live[data-state='offline']", timeout=15_000)
        page.fill("tr[data-sku='MUG-01'] input.qty", "1")
        page.click("#place-order")
        page.wait_for_function("(earlier) => document.getElementById('order-id').textContent !== earlier", arg=earlier)
        later = page.text_content("#order-id")
        assert later
        wait_until_final(shop, user, later)  # every step while the page is offline: nothing tells it, nothing polls
        assert page.get_attribute("#order-status", "data-status") == "placed"
        assert order_reads == [f"{shop.api}/orders/{earlier}"]
        page.click("#live")  # reconnect
        page.wait_for_selector("#order-status[data-status='delivered']", timeout=15_000)
        assert page.get_attribute("#live", "data-state") == "live"
        assert order_reads == [f"{shop.api}/orders/{earlier}", f"{shop.api}/orders/{later}"]

    def test_the_page_and_its_files_are_served_with_a_strict_content_security_policy(
        self, shop: ApiClient, order_stack: Stack
    ):
        page = shop.http.get(f"{shop.api}/shop")
        assert page.status_code == 200
        policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
        assert policy["script-src"] == "'self'"
        standin = order_stack.signalr.removeprefix("http://")  # the stand-in's loopback origin, over HTTP and ws
        assert policy["connect-src"] == f"'self' http://{standin} ws://{standin}"
        assert 'data-auth-mode="dev"' in page.text
        for script in ("shop.js", "signalr.min.js"):
            assert shop.http.get(f"{shop.api}/shop/{script}").headers["content-type"].startswith("text/javascript")
        for missing in ("shop.html", "..%2Fshop.py", "x.js", "signalr.js"):
            assert shop.http.get(f"{shop.api}/shop/{missing}").status_code == 404
