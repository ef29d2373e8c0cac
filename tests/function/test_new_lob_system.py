"""Adding a LoB system is a topology entry, catalog entries (schema, audience, texts) and a trigger: this test adds
a payroll system in test data only and shows an event of it reaching a subscriber's phone in their language."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import azure.functions as func
import pytest
from azure.functions.servicebus import ServiceBusMessage

from shared.domain.catalog import CATALOG, MESSAGES, CatalogEntry, LobPayload
from shared.domain.catalog.messages import Message
from shared.domain.catalog.payloads import Identifier
from shared.domain.publishing import to_outgoing_message
from shared.domain.topics import TOPICS
from shared.triggers import pipeline
from shared.usecases.delivery import IncomingMessage
from tests.function.conftest import Emulator, put_installation

pytestmark = pytest.mark.function

TOPOLOGY = Path(__file__).resolve().parents[2] / "infra" / "servicebus-topology.json"


class PayrollRunCompleted(LobPayload):
    run_id: Identifier
    period: Identifier


PAYROLL = CatalogEntry(
    event_type="payroll.run.completed",
    topic="payroll",
    payload=PayrollRunCompleted,
    recipient_field=None,
    deep_link="enterprisepush://payroll/runs/{runId}",
    category="payroll.runs",
    delivery="alert",
    priority="normal",
    ttl=timedelta(hours=12),
    example={"runId": "PR-2026-11", "period": "2026-11"},
)


@pytest.fixture
def payroll_system(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Step 1-2: the topic with its source, and the catalog entry with its texts (test data only)."""
    monkeypatch.setitem(TOPICS, "payroll", "/lob/payroll")  # type: ignore[arg-type]
    monkeypatch.setitem(CATALOG, "payroll.run.completed", PAYROLL)  # type: ignore[arg-type]
    monkeypatch.setitem(
        MESSAGES,  # type: ignore[arg-type]
        "payroll.run.completed",
        {
            "en": Message("Payslip ready", "Your payslip for {period} is ready."),
            "de": Message("Gehaltsabrechnung bereit", "Deine Abrechnung für {period} ist da."),
            "es": Message("Nómina lista", "Tu nómina de {period} está lista."),
        },
    )
    topology = json.loads(TOPOLOGY.read_text())
    template = topology["UserConfig"]["Namespaces"][0]["Topics"][0]
    topology["UserConfig"]["Namespaces"][0]["Topics"].append({**template, "Name": "payroll"})
    return topology


def payroll_trigger() -> func.FunctionApp:
    """Step 3: the trigger, written like function_app.py's (one per push subscription)."""
    app = func.FunctionApp()

    @app.service_bus_topic_trigger(
        arg_name="msg", topic_name="payroll", subscription_name="push", connection="ServiceBusConnection"
    )
    async def dispatch_payroll_event(msg: func.ServiceBusMessage) -> None:
        await pipeline.deliver(
            IncomingMessage("payroll", "push", msg.message_id, msg.get_body(), msg.content_type, msg.subject)
        )

    return app


async def test_a_new_lob_system_flows_end_to_end(payroll_system: dict, services, emulator: Emulator):
    app = payroll_trigger()
    [function] = app.get_functions()
    trigger = function.get_trigger().get_dict_repr()
    topics = {t["Name"] for t in payroll_system["UserConfig"]["Namespaces"][0]["Topics"]}
    assert (trigger["topicName"], trigger["subscriptionName"]) == ("payroll", "push")
    assert "payroll" in topics

    response = await put_installation(
        "maria",
        "maria-phone",
        {
            "platform": "fcmv1",
            "pushChannel": "fcm_maria_" + "k" * 30,
            "language": "es",
            "interests": ["payroll"],
        },
    )
    assert response.status_code == 200, response.get_body()

    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/lob/payroll",
        "type": "payroll.run.completed",
        "data": {"runId": "PR-2026-11", "period": "2026-11"},
    }
    outgoing = to_outgoing_message(event)
    message = ServiceBusMessage(
        body=outgoing.body,
        message_id=outgoing.message_id,
        content_type=outgoing.content_type,
        subject=outgoing.subject,
        application_properties=dict(outgoing.application_properties),
        user_properties={},
    )
    await function.get_user_function()(message)

    [delivery] = await emulator.inbox("maria-phone")
    assert "Nómina lista" in json.dumps(delivery["payload"], ensure_ascii=False)
