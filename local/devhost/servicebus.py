"""Service Bus topic triggers fed from the local bus: peek-lock, auto lock renewal, complete or abandon.

A batch trigger (cardinality "many") gets up to maxMessageBatchSize messages per invocation, one batch at a time,
and settles them together, as the Service Bus extension does; like in Azure, no lock is renewed for a batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from azure.functions.servicebus import ServiceBusMessage

from local.bus import LocalBus, LockLostError, ReceivedMessage
from local.devhost.functions import FunctionSpec
from local.devhost.in_flight import InFlight
from local.devhost.invoke import invoke
from local.devhost.worker_input import BrokerMessage, decode, service_bus_batch_input, service_bus_input
from local.settings import resolve_setting_refs

__all__ = ["LocalBusTrigger", "broker_message", "to_function_message", "to_function_messages", "trigger_entity"]

logger = logging.getLogger("local.devhost")


def trigger_entity(spec: FunctionSpec, environ: Mapping[str, str]) -> tuple[str, str]:
    """The (topic, subscription) a trigger listens on, %SETTING% references resolved. Raises ConfigError."""
    topic = resolve_setting_refs(str(spec.binding["topicName"]), environ)
    subscription = resolve_setting_refs(str(spec.binding["subscriptionName"]), environ)
    return topic, subscription


def broker_message(received: ReceivedMessage) -> BrokerMessage:
    """What the Service Bus extension would read from this delivery of the local bus."""
    return BrokerMessage(
        message_id=received.message_id,
        body=received.body,
        delivery_count=received.delivery_count,
        sequence_number=received.sequence_number,
        enqueued_time=received.enqueued_time,
        lock_token=received.lock_token,
        expires_at=received.expires_at,
        content_type=received.content_type,
        correlation_id=received.correlation_id,
        subject=received.subject,
        application_properties=dict(received.application_properties),
    )


def to_function_message(received: ReceivedMessage, *, binary: bool = False) -> ServiceBusMessage:
    """The func.ServiceBusMessage the worker would hand over for this delivery: the host's input for it, decoded
    by azure.functions' ServiceBusMessageInConverter (``binary``: the binding's dataType is binary)."""
    message: ServiceBusMessage = decode(
        "serviceBusTrigger", *service_bus_input(broker_message(received), binary=binary)
    )
    return message


def to_function_messages(batch: list[ReceivedMessage], *, binary: bool = False) -> list[ServiceBusMessage]:
    """The list a batch function (cardinality "many") gets, decoded the same way from the host's array input."""
    messages: list[ServiceBusMessage] = decode(
        "serviceBusTrigger", *service_bus_batch_input([broker_message(r) for r in batch], binary=binary)
    )
    return messages


class LocalBusTrigger:
    """Feeds one function from one subscription: up to ``max_concurrent_calls`` single-message invocations at a
    time, or one batch of up to ``max_batch_size`` messages at a time for a batch function."""

    def __init__(
        self,
        spec: FunctionSpec,
        bus: LocalBus,
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
        self._bus = bus
        self._topic = topic
        self._subscription = subscription
        self._slots = asyncio.Semaphore(max_concurrent_calls)
        self._max_lock_renewal = max_lock_renewal
        self._lock_seconds = bus.topology.topic(topic).subscription(subscription).lock_duration.total_seconds()
        self._in_flight = InFlight()
        self._stopping = False

    async def run(self) -> None:
        """Receive and dispatch until stop() or cancellation."""
        if self._spec.is_batch:
            await self._run_batches()
            return
        while not self._stopping:
            await self._slots.acquire()
            try:
                received = await self._bus.receive(self._topic, self._subscription, max_wait=0.5)
            except BaseException:
                self._slots.release()
                raise
            if received is None:
                self._slots.release()
                continue
            self._in_flight.start(self._handle(received))

    async def _run_batches(self) -> None:
        while not self._stopping:
            batch = await self._bus.receive_batch(
                self._topic, self._subscription, max_count=self._max_batch_size, max_wait=0.5
            )
            if not batch:
                continue
            await asyncio.wait({self._in_flight.start(self._handle_batch(batch))})

    async def _handle_batch(self, batch: list[ReceivedMessage]) -> None:
        detail = f"{self._topic}/{self._subscription} {len(batch)} messages"
        tokens = [received.lock_token for received in batch]
        try:
            messages = to_function_messages(batch, binary=self._binary)
            await invoke(self._spec, messages, trigger="serviceBusTrigger", detail=detail)
        except Exception:
            logger.exception("function %s failed; abandoning its batch of %s messages", self._spec.name, len(batch))
            lost = await self._bus.abandon_many(tokens)
        else:
            lost = await self._bus.complete_many(tokens)
        if lost:
            logger.warning("%s locks of the batch were lost before settlement; those messages come back", len(lost))

    async def drain(self, grace: float) -> None:
        """Stop receiving and wait up to ``grace`` seconds for running invocations; unfinished ones keep their lock."""
        self._stopping = True
        await self._in_flight.wait(grace)

    async def _handle(self, received: ReceivedMessage) -> None:
        renewer = asyncio.get_running_loop().create_task(self._renew(received.lock_token))
        try:
            detail = f"{self._topic}/{self._subscription} message_id={received.message_id}"
            detail += f" delivery={received.delivery_count}"
            try:
                message = to_function_message(received, binary=self._binary)
                await invoke(self._spec, message, trigger="serviceBusTrigger", detail=detail)
            except Exception:
                renewer.cancel()
                logger.exception("function %s failed; abandoning message %s", self._spec.name, received.message_id)
                await self._settle(self._bus.abandon, received)
            else:
                renewer.cancel()
                await self._settle(self._bus.complete, received)
        finally:
            renewer.cancel()
            self._slots.release()

    async def _settle(self, action: Any, received: ReceivedMessage) -> None:
        try:
            await action(received.lock_token)
        except LockLostError:
            logger.warning("lock on message %s was lost before settlement; it will be redelivered", received.message_id)

    async def _renew(self, lock_token: str) -> None:
        """Renew the lock at half its duration while the function runs, up to maxAutoLockRenewalDuration."""
        started = time.monotonic()
        while time.monotonic() - started < self._max_lock_renewal:
            await asyncio.sleep(max(self._lock_seconds / 2, 0.05))
            try:
                await self._bus.renew_lock(lock_token)
            except LockLostError:
                return
