"""The azure-servicebus adapter without a broker: message mapping, batching, DLQ mapping, error mapping."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.servicebus import ServiceBusMessage, ServiceBusMessageBatch
from azure.servicebus.exceptions import (
    MessagingEntityNotFoundError,
    ServiceBusAuthorizationError,
    ServiceBusConnectionError,
    ServiceBusServerBusyError,
)

from shared.adapters.service_bus import (
    ServiceBusDeadLetterStore,
    ServiceBusEventPublisher,
    decode_application_properties,
    map_service_bus_error,
    to_dead_lettered,
    to_service_bus_message,
)
from shared.domain.errors import NotFoundError, UpstreamError, UpstreamUnavailableError
from shared.domain.records import OutgoingMessage


def outgoing(message_id: str, size: int = 10) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=message_id,
        subject="hr.employee.joined",
        content_type="application/cloudevents+json",
        body=b"x" * size,
        application_properties={"type": "hr.employee.joined", "source": "/lob/hr"},
    )


@dataclass
class FakeSender:
    batch_size: int
    sent: list[list[str]] = field(default_factory=list)
    fail_with: Exception | None = None

    async def __aenter__(self) -> FakeSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def create_message_batch(self) -> ServiceBusMessageBatch:
        return ServiceBusMessageBatch(max_size_in_bytes=self.batch_size)

    async def send_messages(self, batch: Any) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        messages = batch._messages if isinstance(batch, ServiceBusMessageBatch) else [batch]
        self.sent.append([str(m.message_id) for m in messages])


@dataclass
class FakeClient:
    sender: FakeSender
    topics: list[str] = field(default_factory=list)

    def get_topic_sender(self, topic: str) -> FakeSender:
        self.topics.append(topic)
        return self.sender


@dataclass
class ReceivedStandIn:
    """The attributes of azure.servicebus.ServiceBusReceivedMessage the adapter reads."""

    body: Any
    message_id: str = "evt-1"
    sequence_number: int = 17
    subject: str | None = "hr.employee.joined"
    content_type: str | None = "application/cloudevents+json"
    correlation_id: str | None = None
    dead_letter_reason: str | None = "MaxDeliveryCountExceeded"
    dead_letter_error_description: str | None = "Message could not be consumed after 10 delivery attempts."
    application_properties: dict[Any, Any] = field(default_factory=lambda: {b"type": b"hr.employee.joined"})
    enqueued_time_utc: datetime = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    delivery_count: int | None = 10


class TestMessageMapping:
    def test_outgoing_message_keeps_id_subject_content_type_and_properties(self) -> None:
        wire = to_service_bus_message(outgoing("evt-1"))
        assert isinstance(wire, ServiceBusMessage)
        assert (wire.message_id, wire.subject, wire.content_type) == (
            "evt-1",
            "hr.employee.joined",
            "application/cloudevents+json",
        )
        assert wire.application_properties == {"type": "hr.employee.joined", "source": "/lob/hr"}
        assert b"".join(wire.body) == b"x" * 10

    def test_received_properties_with_bytes_keys_and_values_become_strings(self) -> None:
        assert decode_application_properties({b"type": b"a", "n": 3, b"flag": True}) == {
            "type": "a",
            "n": "3",
            "flag": "True",
        }
        assert decode_application_properties(None) == {}

    def test_dead_lettered_message_gets_a_stable_replay_id_and_readable_fields(self) -> None:
        dead = to_dead_lettered("hr", "push", ReceivedStandIn(body=iter([b'{"a":', b"1}"])))
        assert dead.id == "hr/push/17"
        assert dead.body == b'{"a":1}'
        assert dead.reason == "MaxDeliveryCountExceeded"
        assert dead.application_properties == {"type": "hr.employee.joined"}
        assert dead.delivery_count == 10


class TestPublisher:
    async def test_publishes_in_as_few_batches_as_fit(self) -> None:
        sender = FakeSender(batch_size=800)
        publisher = ServiceBusEventPublisher(FakeClient(sender))  # type: ignore[arg-type]
        await publisher.publish("hr", [outgoing(str(i), size=100) for i in range(5)])
        assert [m for batch in sender.sent for m in batch] == ["0", "1", "2", "3", "4"]
        assert len(sender.sent) < 5

    async def test_transient_failure_becomes_upstream_unavailable(self) -> None:
        sender = FakeSender(batch_size=10_000, fail_with=ServiceBusServerBusyError(message="busy"))
        publisher = ServiceBusEventPublisher(FakeClient(sender))  # type: ignore[arg-type]
        with pytest.raises(UpstreamUnavailableError):
            await publisher.publish("hr", [outgoing("1")])

    async def test_message_too_large_for_any_batch_is_a_permanent_error(self) -> None:
        publisher = ServiceBusEventPublisher(FakeClient(FakeSender(batch_size=200)))  # type: ignore[arg-type]
        with pytest.raises(UpstreamError) as caught:
            await publisher.publish("hr", [outgoing("1", size=1000)])
        assert not isinstance(caught.value, UpstreamUnavailableError)

    async def test_nothing_to_publish_opens_no_sender(self) -> None:
        client = FakeClient(FakeSender(batch_size=200))
        await ServiceBusEventPublisher(client).publish("hr", [])  # type: ignore[arg-type]
        assert client.topics == []


class TestErrorsAndReplayIds:
    @pytest.mark.parametrize(
        ("error", "transient"),
        [
            (ServiceBusConnectionError(message="down"), True),
            (ServiceBusServerBusyError(message="busy"), True),
            (ServiceBusAuthorizationError(message="no"), False),
            (MessagingEntityNotFoundError(message="gone"), False),
        ],
    )
    def test_maps_azure_errors_to_the_app_tree(self, error: Exception, transient: bool) -> None:
        mapped = map_service_bus_error(error, "publish")
        assert isinstance(mapped, UpstreamError)
        assert isinstance(mapped, UpstreamUnavailableError) is transient

    @pytest.mark.parametrize("dead_letter_id", ["garbage", "hr/push/x", "other/push/1"])
    async def test_replay_of_an_unknown_id_is_not_found_without_touching_the_broker(self, dead_letter_id: str) -> None:
        store = ServiceBusDeadLetterStore(object(), [("hr", "push")])  # type: ignore[arg-type]
        with pytest.raises(NotFoundError):
            await store.replay(dead_letter_id)
