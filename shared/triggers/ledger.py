"""Entry point of the decision ledger's retention: a daily timer deletes decisions past their retention."""

from __future__ import annotations

import logging

from shared.composition import root as bootstrap
from shared.composition.correlation import invocation
from shared.usecases.decision_ledger import sweep_decisions

__all__ = ["sweep_decision_ledger"]

logger = logging.getLogger(__name__)


async def sweep_decision_ledger() -> int:
    """Delete expired decisions; returns how many rows went (0 when the ledger is not configured)."""
    services = bootstrap.services()
    if services.ledger is None:
        return 0
    with invocation("sweep decision ledger", {}, event_id=None):
        deleted = await sweep_decisions(services.ledger, now=services.now())
    logger.info("decision ledger: %s expired rows deleted", deleted)
    return deleted
