"""Service Bus topic triggers fed by a real broker (Azure or the official emulator) through azure-servicebus.

Deliberately small and untested here (no broker in CI): receive in peek-lock, renew locks while running,
complete on return, abandon on exception. A batch function gets up to maxMessageBatchSize messages, one batch at a
time, settled together and without lock renewal, as in Azure.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from azure.functions.servicebus import ServiceBusMessage
from azure.servicebus import ServiceBusReceivedMessage
from azure.servicebus.aio import AutoLockRenewer, ServiceBusClient, ServiceBusReceiver
from azure.servicebus.exceptions import ServiceBusError

from local.devhost.functions import FunctionSpec
from local.devhost.in_flight import InFlight
from local.devhost.invoke import invoke
from local.devhost.worker_input import BrokerMessage, decode, service_bus_batch_input, service_bus_input
from shared.adapters.service_bus import decode_application_properties, message_body

__all__ = ["AzureServiceBusTrigger", "from_received"]

logger = logging.getLogger("local.devhost")


def from_received(message: ServiceBusReceivedMessage, *, binary: bool = False) -> ServiceBusMessage:
    """The func.ServiceBusMessage for an azure-servicebus received message, decoded from the host's input for it
    by azure.functions' own converter (as local.devhost.servicebus does for the local bus)."""
    data, metadata = service_bus_input(broker_message(message), binary=binary)
    decoded: ServiceBusMessage = decode("serviceBusTrigger", data, metadata)
    return decoded


def broker_message(message: ServiceBusReceivedMessage) -> BrokerMessage:
    """What the Service Bus extension reads from an azure-servicebus received message."""
    return BrokerMessage(
        message_id=str(message.message_id),
        body=message_body(message),
        delivery_count=message.delivery_count or 0,
        sequence_number=message.sequence_number or 0,
        enqueued_time=message.enqueued_time_utc or datetime.now(UTC),
        lock_token=str(message.lock_token),
        expires_at=message.expires_at_utc,
        content_type=message.content_type,
        correlation_id=message.correlation_id,
        subject=message.subject,
        reply_to=message.reply_to,
        to=message.to,
        session_id=message.session_id,
        reply_to_session_id=message.reply_to_session_id,
        partition_key=message.partition_key,
        dead_letter_source=message.dead_letter_source,
        application_properties=dict(decode_application_properties(message.application_properties)),
    )


class AzureServiceBusTrigger:
    """Feeds one function from one subscription of a real broker."""

    def __init__(
        self,
        spec: FunctionSpec,
        client: ServiceBusClient,
        topic: str,
        subscription: str,
        *,
        max_concurrent_calls: int,
        max_lock_renewal: float,
        max_batch_size: int = 1000,
    ) -> None:
        self._spec = spec
        self._binary = str(spec.binding.get("dataType") or "").lower() == "binary"
        self._max_batch_size = max_batch_size
        self._client = client
        self._topic = topic
        self._subscription = subscription
        self._slots = asyncio.Semaphore(max_concurrent_calls)
        self._renewer = AutoLockRenewer(max_lock_renewal_duration=max_lock_renewal)
        self._in_flight = InFlight()
        self._stopping = False

    async def run(self) -> None:
        """Receive and dispatch until drain() or cancellation; reconnects after broker errors."""
        while not self._stopping:
            try:
                async with self._client.get_subscription_receiver(self._topic, self._subscription) as receiver:
                    await self._receive_loop(receiver)
            except ServiceBusError:
                logger.exception("receiving from %s/%s failed; retrying in 5 s", self._topic, self._subscription)
                await asyncio.sleep(5)

    async def _receive_loop(self, receiver: ServiceBusReceiver) -> None:
        if self._spec.is_batch:
            await self._receive_batches(receiver)
            return
        while not self._stopping:
            await self._slots.acquire()
            try:
                batch = await receiver.receive_messages(max_message_count=1, max_wait_time=5)
            except BaseException:
                self._slots.release()
                raise
            if not batch:
                self._slots.release()
                continue
            message = batch[0]
            self._renewer.register(receiver, message)
            self._in_flight.start(self._handle(receiver, message))

    async def _receive_batches(self, receiver: ServiceBusReceiver) -> None:
        while not self._stopping:
            batch = await receiver.receive_messages(max_message_count=self._max_batch_size, max_wait_time=5)
            if not batch:
                continue
            await asyncio.wait({self._in_flight.start(self._handle_batch(receiver, batch))})

    async def _handle_batch(self, receiver: ServiceBusReceiver, batch: list[ServiceBusReceivedMessage]) -> None:
        detail = f"{self._topic}/{self._subscription} {len(batch)} messages"
        try:
            data, metadata = service_bus_batch_input([broker_message(m) for m in batch], binary=self._binary)
            await invoke(
                self._spec, decode("serviceBusTrigger", data, metadata), trigger="serviceBusTrigger", detail=detail
            )
        except Exception:
            logger.exception("function %s failed; abandoning its batch of %s messages", self._spec.name, len(batch))
            settle = receiver.abandon_message
        else:
            settle = receiver.complete_message
        # azure-servicebus 7.15 waits for each settlement's outcome: settle the batch concurrently.
        outcomes = await asyncio.gather(*(settle(message) for message in batch), return_exceptions=True)
        failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failed:
            logger.warning(
                "settling %s messages of the batch failed (%s); they will be redelivered", len(failed), failed[0]
            )

    async def drain(self, grace: float) -> None:
        """Stop receiving and wait up to ``grace`` seconds for running invocations."""
        self._stopping = True
        await self._in_flight.wait(grace)
        await self._renewer.close()

    async def _handle(self, receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage) -> None:
        detail = f"{self._topic}/{self._subscription} message_id={message.message_id} delivery={message.delivery_count}"
        try:
            try:
                decoded = from_received(message, binary=self._binary)
                await invoke(self._spec, decoded, trigger="serviceBusTrigger", detail=detail)
            except Exception:
                logger.exception("function %s failed; abandoning message %s", self._spec.name, message.message_id)
                await receiver.abandon_message(message)
            else:
                await receiver.complete_message(message)
        except ServiceBusError:
            logger.exception("settling message %s failed; it will be redelivered", message.message_id)
        finally:
            self._slots.release()
