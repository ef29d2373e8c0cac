"""Entry points of the order-processing app for triggers: the fulfilment worker and the outbox relay timer."""

from __future__ import annotations

from shared.composition import root as bootstrap
from shared.usecases.delivery import IncomingMessage
from shared.usecases.fulfil_order import FulfilmentResult, fulfil_message
from shared.usecases.relay_outbox import relay_pending

__all__ = ["fulfil", "relay_order_outbox"]


async def fulfil(message: IncomingMessage) -> FulfilmentResult:
    """Move one order one step with the process's services; raises when the bus should redeliver."""
    return await fulfil_message(message, bootstrap.services().fulfilment)


async def relay_order_outbox() -> int:
    """Publish what order writes left in the outbox (their own relay failed, or the process died first)."""
    services = bootstrap.services()
    return await relay_pending(services.publisher, services.outbox, services.now())
