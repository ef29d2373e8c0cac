"""The delivery log's single-request write path (claim = insert-if-absent, finish = etag-conditional replace), judged
by what the NH emulator's devices received and show: duplicates push once, a stale claim is taken over once, a
lost outcome write costs at most the documented window (an NH-level resend that the collapse id hides)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

import function_app
from shared.composition.services import Services
from shared.domain.errors import UpstreamUnavailableError
from shared.domain.events import event_key
from shared.domain.records import Claim, ClaimStatus, DeliveryRecord, DeliveryState
from shared.usecases.delivery import DispatchResult, deliver_message
from tests.function.conftest import Emulator
from tests.function.test_pipeline_functions import cloud_event, people, sb_message, trigger

pytestmark = pytest.mark.function
__all__ = ["people"]  # the fixture, re-used from the pipeline tests


async def device(emulator: Emulator, installation_id: str) -> dict[str, Any]:
    """What one simulated phone received (every push NH handed it) and shows (after collapse ids)."""
    response = await emulator.http.get(f"{emulator.base_url}_emulator/devices/{installation_id}")
    response.raise_for_status()
    return dict(response.json())


class _FinishLost:
    """The app's delivery log, except that every outcome write fails as if storage went away after the send."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.lost: list[Claim] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def finish(self, claim: Claim, record: DeliveryRecord) -> None:
        self.lost.append(claim)
        raise UpstreamUnavailableError("Tables went away after the send")


class TestDuplicates:
    async def test_concurrent_and_repeated_copies_of_a_broadcast_reach_each_device_once(
        self, people, services: Services, emulator: Emulator
    ):
        event = cloud_event("hr.employee.joined")
        await asyncio.gather(*(trigger("hr", sb_message(event, delivery_count=1)) for _ in range(6)))
        for delivery_count in (2, 3):
            await trigger("hr", sb_message(event, delivery_count=delivery_count))
        for installation_id in ("alice-iphone", "bob-pixel"):
            assert (await device(emulator, installation_id))["received"] == 1
        assert (await device(emulator, "carol-surface"))["received"] == 0
        row = await services.deliveries.get(event_key(event["source"], event["id"]), "push")
        assert (row.state, row.attempt) == (DeliveryState.SENT, 1)


class TestStaleClaims:
    async def test_a_crashed_holders_claim_is_taken_over_by_exactly_one_of_several_redeliveries(
        self, people, services: Services, emulator: Emulator
    ):
        event = cloud_event("finance.budget_approval.requested", approverId="alice")
        key = event_key(event["source"], event["id"])
        crashed = await services.deliveries.claim(
            key, "push", now=services.now() - timedelta(hours=1), stale_after=timedelta(seconds=90)
        )
        assert crashed.status is ClaimStatus.CLAIMED  # its holder died before sending anything
        await asyncio.gather(*(trigger("finance", sb_message(event, delivery_count=2)) for _ in range(5)))
        assert (await device(emulator, "alice-iphone"))["received"] == 1
        row = await services.deliveries.get(key, "push")
        assert (row.state, row.attempt) == (DeliveryState.SENT, 2)
        # The crashed holder, were it alive after all, can no longer record over the new outcome.
        with pytest.raises(Exception, match="taken over"):
            await services.deliveries.finish(crashed, replace(row, state=DeliveryState.FAILED))


class TestLostOutcome:
    """The documented window: the send left, its outcome was never written. The message is completed (handing it
    back would push again at once); a later redelivery takes the stale claim over once it turns stale."""

    async def lose_the_outcome_then_redeliver(
        self, services: Services, event: dict[str, Any], topic: str
    ) -> tuple[_FinishLost, list[DispatchResult]]:
        message = function_app.incoming_message(sb_message(event), topic, "push")
        lossy = _FinishLost(services.deliveries)
        stale_after = timedelta(seconds=0.5)
        ports = replace(services.delivery, deliveries=lossy, finish_attempts=2, stale_after=stale_after)
        results = [await deliver_message(message, ports)]
        plain = replace(services.delivery, stale_after=stale_after, in_progress_poll=0.05)
        for delivery_count in (2, 3):  # the second waits for the claim to turn stale; the third finds it finished
            results.append(await deliver_message(replace(message, delivery_count=delivery_count), plain))
        return lossy, results

    async def test_a_broadcast_is_sent_again_by_nh_but_each_phone_shows_it_once(
        self, people, services: Services, emulator: Emulator
    ):
        event = cloud_event("hr.employee.left")
        lossy, results = await self.lose_the_outcome_then_redeliver(services, event, "hr")
        assert len(lossy.lost) == 2  # tried again once, then given up on without raising
        assert results == [DispatchResult.SENT, DispatchResult.SENT, DispatchResult.DUPLICATE]
        for installation_id in ("alice-iphone", "bob-pixel"):
            phone = await device(emulator, installation_id)
            assert phone["received"] == 2  # NH-level: sent twice, as the window allows
            assert len(phone["shown"]) == 1  # what the person sees: one notification

    async def test_a_one_user_notification_is_not_sent_again_at_all(
        self, people, services: Services, emulator: Emulator
    ):
        """The user's inbox entry records the push before the outcome write, so the resumed delivery only finishes."""
        event = cloud_event("finance.budget_approval.requested", approverId="alice")
        lossy, results = await self.lose_the_outcome_then_redeliver(services, event, "finance")
        assert len(lossy.lost) == 2
        assert results == [DispatchResult.SENT, DispatchResult.SENT, DispatchResult.DUPLICATE]
        phone = await device(emulator, "alice-iphone")
        assert (phone["received"], len(phone["shown"])) == (1, 1)
