"""The whole flow over real HTTP: register devices, publish LoB events, see pushes on the right phones only."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from local.bus.broker import LocalBus
from local.bus.topology import load_topology
from shared.domain.records import OutgoingMessage
from tests.e2e.api_client import ApiClient, People, event, fcm_token, payload_text
from tests.support.stack import ROOT, Stack, poll, settle

pytestmark = pytest.mark.e2e

APNS = "cd" * 32


def received(client: ApiClient, installation_id: str, event_id: str) -> list[dict]:
    return [d for d in client.inbox(installation_id) if event_id in payload_text(d)]


def wait_for_delivery(client: ApiClient, installation_id: str, event_id: str) -> list[dict]:
    return poll(lambda: received(client, installation_id, event_id), until=bool)


def approval(approver: str, requester: str) -> dict:
    return event(
        "finance.budget_approval.requested",
        "/lob/finance",
        requestId=f"BR-{uuid.uuid4().hex[:6]}",
        approverId=approver,
        requesterId=requester,
        requesterName="Bob Builder",
        amount="1234.50",
        currency="EUR",
        purpose="Team offsite",
    )


class TestScenarios:
    def test_a_finance_approval_reaches_only_the_approver_in_their_language(
        self, client: ApiClient, people: People, stack: Stack
    ):
        request = approval(people.alice, people.bob)
        assert client.publish(request).status_code == 202
        [delivery] = wait_for_delivery(client, people.devices[people.alice], request["id"])
        assert "Freigabe erforderlich" in payload_text(delivery)
        assert "1.234,50" in payload_text(delivery)
        settle(stack)
        assert received(client, people.devices[people.bob], request["id"]) == []
        assert received(client, people.devices[people.carol], request["id"]) == []

    def test_hr_news_reaches_every_hr_follower_in_their_language(self, client: ApiClient, people: People, stack: Stack):
        news = event("hr.employee.joined", "/lob/hr", employeeId="E-1", displayName="Jana Novák", team="Platform")
        assert client.publish(news).status_code == 202
        [for_alice] = wait_for_delivery(client, people.devices[people.alice], news["id"])
        [for_bob] = wait_for_delivery(client, people.devices[people.bob], news["id"])
        assert "Neu im Team" in payload_text(for_alice)
        assert "Nueva incorporación" in payload_text(for_bob)
        settle(stack)
        assert received(client, people.devices[people.carol], news["id"]) == []

    def test_a_debit_under_the_threshold_reaches_nobody(self, client: ApiClient, people: People, stack: Stack):
        assert client.set_preferences(people.bob, interests=["hr"], debitThreshold="500").status_code == 200
        small = event(
            "accounts.debit.posted", "/lob/accounts", accountId="A-1", ownerId=people.bob, amount="120.00",
            currency="EUR", merchant="Café Central",
        )  # fmt: skip
        large = {**small, "id": str(uuid.uuid4()), "data": {**small["data"], "amount": "980.00"}}
        assert client.publish(small).status_code == 202
        assert client.publish(large).status_code == 202
        wait_for_delivery(client, people.devices[people.bob], large["id"])
        settle(stack)
        assert received(client, people.devices[people.bob], small["id"]) == []

    def test_a_duplicate_event_pushes_once(self, client: ApiClient, people: People, stack: Stack):
        request = approval(people.alice, people.bob)
        assert client.publish(request).status_code == 202
        assert client.publish(request).status_code == 202
        wait_for_delivery(client, people.devices[people.alice], request["id"])
        settle(stack)
        assert len(received(client, people.devices[people.alice], request["id"])) == 1

    def test_a_malformed_event_shows_up_in_the_dead_letter_listing(self, client: ApiClient, stack: Stack):
        """LoB systems on AMQP bypass the HTTPS validation: the push function quarantines what it cannot read."""
        message_id = f"broken-{uuid.uuid4().hex}"

        async def publish_raw() -> None:
            bus = LocalBus(stack.state_dir / "bus.sqlite3", load_topology(ROOT / "infra" / "servicebus-topology.json"))
            try:
                await bus.publish(
                    "hr",
                    [OutgoingMessage(message_id, "hr.employee.joined", "application/cloudevents+json", b"{not json")],
                )
            finally:
                bus.close()

        asyncio.run(publish_raw())
        items = poll(client.dead_letters, until=lambda items: any(i["messageId"] == message_id for i in items))
        [item] = [i for i in items if i["messageId"] == message_id]
        assert (item["kind"], item["reason"], item["topic"]) == ("quarantine", "invalid_json", "hr")

    def test_with_nh_faults_switched_on_every_event_still_arrives_once(
        self, client: ApiClient, people: People, stack: Stack
    ):
        client.faults(
            {
                "seed": 5,
                "rules": [
                    {"route": "send", "rate": 0.2, "status": 429, "retryAfter": 1},
                    {"route": "send", "rate": 0.1, "status": 503},
                    {"route": "send", "rate": 0.1, "drop": True},
                ],
            }
        )
        try:
            requests = [approval(people.alice, people.bob) for _ in range(8)]
            for request in requests:
                assert client.publish(request).status_code == 202
            device = people.devices[people.alice]
            for request in requests:
                poll(lambda r=request: received(client, device, r["id"]), until=bool, timeout=60)
            settle(stack)
        finally:
            client.faults(None)
        counts = [len(received(client, device, r["id"])) for r in requests]
        assert counts == [1] * len(requests)

    def test_a_phone_that_changes_hands_stops_receiving_the_previous_owners_notifications(
        self, client: ApiClient, people: People, stack: Stack
    ):
        channel = fcm_token()
        dave = f"dave{uuid.uuid4().hex[:8]}"
        assert client.register(people.alice, "shared-phone-a", platform="fcmv1", pushChannel=channel).status_code == 200
        assert client.register(dave, "shared-phone-d", platform="fcmv1", pushChannel=channel).status_code == 200
        for_alice, for_dave = approval(people.alice, people.bob), approval(dave, people.bob)
        assert client.publish(for_alice).status_code == 202
        assert client.publish(for_dave).status_code == 202
        wait_for_delivery(client, "shared-phone-d", for_dave["id"])
        settle(stack)
        assert client.inbox("shared-phone-a") == []
        assert received(client, "shared-phone-d", for_alice["id"]) == []


class TestOperatorCli:
    def test_lists_and_replays_an_event_nh_refused_once_the_cause_is_fixed(
        self, client: ApiClient, stack: Stack, people: People, capsys
    ):
        """NH refuses the send for good (401: the key was revoked): the event is quarantined with the reason; once
        the key is fixed, the operator replays it and it is delivered."""
        from local.deadletters import main as deadletters

        client.faults({"seed": 1, "rules": [{"route": "send", "rate": 1.0, "status": 401}]})
        request = approval(people.alice, people.bob)
        assert client.publish(request).status_code == 202
        message_id = f"/lob/finance#{request['id']}"  # publishers set message_id = source#id
        items = poll(client.dead_letters, until=lambda items: any(i["messageId"] == message_id for i in items))
        [item] = [i for i in items if i["messageId"] == message_id]
        assert (item["kind"], item["reason"]) == ("quarantine", "nh_rejected")
        assert "InvalidSignature" in item["description"]
        client.faults(None)

        assert deadletters(["--api", stack.api, "list"]) == 0
        assert item["id"] in capsys.readouterr().out
        assert deadletters(["--api", stack.api, "replay", item["id"]]) == 0
        assert "replayed" in capsys.readouterr().out
        [delivery] = wait_for_delivery(client, people.devices[people.alice], request["id"])
        assert "Freigabe erforderlich" in payload_text(delivery)
        assert deadletters(["--api", stack.api, "replay", "q-doesnotexist"]) == 1
