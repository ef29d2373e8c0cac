"""Entry points of the operators' timers: advance due campaigns, sweep idle installations."""

from __future__ import annotations

from datetime import timedelta

from shared.composition import root as bootstrap
from shared.usecases.campaign_runner import RunReport, run_campaigns
from shared.usecases.token_hygiene import SweepReport, sweep_idle_installations

__all__ = ["advance_campaigns", "sweep_idle"]


async def advance_campaigns() -> RunReport:
    """One run of the campaign worker with the process's services."""
    return await run_campaigns(bootstrap.services().campaign)


async def sweep_idle() -> SweepReport:
    """Remove installations not refreshed for INSTALLATION_IDLE_DAYS (270 by default)."""
    services = bootstrap.services()
    idle_after = timedelta(days=services.settings.installation_idle_days)
    return await sweep_idle_installations(services.push, services.installations, services.now(), idle_after)
