"""Secure payload on the LoB path: the debit's content is in the owner's inbox before a neutral push goes out."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from shared.domain.errors import ConfigError
from shared.domain.publishing import topic_for
from shared.domain.simulated_events import simulate_event
from shared.usecases.delivery import DispatchResult, IncomingMessage, deliver_message
from tests.fakes import in_memory_delivery_ports
from tests.support.notifications import notification_of

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def debit_message(**data: object) -> tuple[dict, IncomingMessage]:
    event = simulate_event("accounts.debit.posted", random.Random(3), now=NOW, user_ids=["alice"])
    event["data"].update(data)
    body = json.dumps(event).encode()
    return event, IncomingMessage(topic_for(event["type"]), "push", event["id"], body, "application/cloudevents+json")


async def test_the_inbox_holds_the_content_and_the_push_only_neutral_text():
    ports = in_memory_delivery_ports(NOW)
    event, message = debit_message(ownerId="alice", amount="750.00", currency="EUR", merchant="Juwelier Kern")
    assert await deliver_message(message, ports) is DispatchResult.SENT
    item = await ports.secure_content.get("alice", notification_of(event))
    assert item is not None
    assert "Juwelier Kern" in item.bodies["de"]
    [(notification, audience)] = ports.push.sends
    assert audience == "(user:alice) && alert"
    assert "Juwelier" not in notification.body
    assert "750" not in notification.body
    assert json.loads(notification.body)["notificationId"] == notification_of(event)


async def test_a_redelivery_writes_the_same_item_and_pushes_once():
    ports = in_memory_delivery_ports(NOW)
    event, message = debit_message(ownerId="alice", amount="750.00")
    await deliver_message(message, ports)
    assert await deliver_message(message, ports) is DispatchResult.DUPLICATE
    assert list(ports.secure_content.items) == [("alice", notification_of(event))]
    assert len(ports.push.sends) == 1


async def test_without_an_inbox_store_a_sensitive_event_is_not_pushed():
    ports = replace(in_memory_delivery_ports(NOW), secure_content=None)
    _, message = debit_message(ownerId="alice", amount="750.00")
    with pytest.raises(ConfigError, match="sensitive"):
        await deliver_message(message, ports)
    assert ports.push.sends == []
