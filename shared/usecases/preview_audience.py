"""Use case: who an audience reaches, answered from the installations mirror (NH cannot list installations)."""

from __future__ import annotations

import asyncio

from shared.domain.audience import Audience, AudienceCounts, count_audience, parse_audience_expression
from shared.domain.records import InstallationRecord
from shared.ports import InstallationMirror

__all__ = ["preview_audience", "resolve_audience"]

_USER_READS_AT_ONCE = 16


async def resolve_audience(installations: InstallationMirror, audience: Audience) -> list[InstallationRecord]:
    """The active installations the audience reaches, ordered by user and installation id.

    An expression is evaluated on every installation (a scan of the mirror); a user list reads each user's
    partition. Raises UpstreamError (UpstreamUnavailableError when transient) when storage fails.
    """
    if audience.expression is not None:
        candidates = await installations.list_all()
    else:
        gate = asyncio.Semaphore(_USER_READS_AT_ONCE)

        async def of_user(user_id: str) -> list[InstallationRecord]:
            async with gate:
                return await installations.list_for_user(user_id)

        candidates = [record for found in await asyncio.gather(*map(of_user, audience.users)) for record in found]
    return sorted(
        (record for record in candidates if audience.reaches(record)),
        key=lambda record: (record.user_id, record.installation_id),
    )


async def preview_audience(installations: InstallationMirror, expression: str) -> AudienceCounts:
    """How many installations (and users) ``expression`` reaches, by platform and by language.

    Raises ValidationError for an expression a send would refuse, UpstreamError when storage fails.
    """
    audience = parse_audience_expression(expression)
    return count_audience(await resolve_audience(installations, audience))
