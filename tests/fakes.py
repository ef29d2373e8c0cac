"""In-memory fakes of the ports (A's FakeRepository style): they keep state that tests assert on."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from shared.domain.campaigns import Campaign, CampaignSend
from shared.domain.decisions import Decision
from shared.domain.errors import ConflictError, NotFoundError, UpstreamUnavailableError, ValidationError
from shared.domain.inbox import InboxEntry, InboxPage
from shared.domain.records import (
    Claim,
    ClaimStatus,
    DeadLetteredMessage,
    DeliveryRecord,
    DeliveryState,
    FinishReport,
    InstallationRecord,
    OutgoingMessage,
    Preferences,
    QuarantinedMessage,
)
from shared.domain.secure_content import SecureItem
from shared.notification_hubs.models import (
    Installation,
    NhResponse,
    Notification,
    NotificationDetails,
    NotificationOutcome,
    PatchOperation,
    ScheduledSendResult,
    SendResult,
)
from shared.ports import ClientConnection, DecisionPage
from shared.usecases.delivery import DeliveryPorts


class InMemoryInstallationMirror:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], InstallationRecord] = {}
        self.owners: dict[str, str] = {}
        self.fail_next_upsert: Exception | None = None

    async def claim(
        self, installation_id: str, user_id: str, *, now: datetime, push_channel_hash: str | None = None
    ) -> bool:
        return self.owners.setdefault(installation_id, user_id) == user_id

    async def claim_and_write(self, record: InstallationRecord, previous: InstallationRecord | None) -> bool:
        if not await self.claim(record.installation_id, record.user_id, now=record.updated_at):
            return False
        await self.upsert(record)
        return True

    async def set_state(self, user_id: str, installation_id: str, state: str) -> bool:
        row = self.rows.get((user_id, installation_id))
        if row is None:
            return False
        self.rows[(user_id, installation_id)] = replace(row, state=state)
        return True

    async def upsert(self, record: InstallationRecord) -> None:
        if self.fail_next_upsert is not None:
            error, self.fail_next_upsert = self.fail_next_upsert, None
            raise error
        self.rows[(record.user_id, record.installation_id)] = record
        self.owners.setdefault(record.installation_id, record.user_id)

    async def get(self, user_id: str, installation_id: str) -> InstallationRecord | None:
        return self.rows.get((user_id, installation_id))

    async def find_owner(self, installation_id: str) -> str | None:
        return self.owners.get(installation_id)

    async def find_by_channel(self, push_channel_hash: str) -> list[InstallationRecord]:
        return [r for r in self.rows.values() if r.push_channel_hash == push_channel_hash]

    async def list_for_user(self, user_id: str) -> list[InstallationRecord]:
        return [r for (user, _), r in self.rows.items() if user == user_id]

    async def list_all(self) -> list[InstallationRecord]:
        return list(self.rows.values())

    async def delete(self, user_id: str, installation_id: str) -> None:
        self.rows.pop((user_id, installation_id), None)
        if self.owners.get(installation_id) == user_id:
            del self.owners[installation_id]


class InMemoryPreferencesStore:
    def __init__(self) -> None:
        self.saved: dict[str, Preferences] = {}
        self.fail_next_get: Exception | None = None

    async def get(self, user_id: str) -> Preferences | None:
        if self.fail_next_get is not None:
            error, self.fail_next_get = self.fail_next_get, None
            raise error
        return self.saved.get(user_id)

    async def put(self, preferences: Preferences) -> None:
        self.saved[preferences.user_id] = preferences


class InMemoryDeliveryLog:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], tuple[DeliveryRecord, int]] = {}
        self._versions = itertools.count(1)
        self.fail_finish: list[Exception] = []
        self.fail_claim_many: list[Exception] = []
        self.batch_calls = 0

    async def claim(self, event_id: str, subscription: str, *, now: datetime, stale_after: timedelta) -> Claim:
        key = (event_id, subscription)
        current = self.records.get(key)
        if current is None:
            return self._write(
                key, DeliveryRecord(event_id, subscription, DeliveryState.CLAIMED, 1, now), ClaimStatus.CLAIMED
            )
        record, _ = current
        if record.state in (DeliveryState.SENT, DeliveryState.SKIPPED, DeliveryState.FAILED):
            return Claim(ClaimStatus.DONE, event_id, subscription, record.attempt)
        if record.state is DeliveryState.CLAIMED and now - record.claimed_at < stale_after:
            return Claim(ClaimStatus.IN_PROGRESS, event_id, subscription, record.attempt)
        taken = replace(record, state=DeliveryState.CLAIMED, attempt=record.attempt + 1, claimed_at=now)
        return self._write(key, taken, ClaimStatus.RESUMED)

    async def claim_many(
        self, event_ids: Sequence[str], subscription: str, *, now: datetime, stale_after: timedelta
    ) -> dict[str, Claim]:
        self.batch_calls += 1
        if self.fail_claim_many:
            raise self.fail_claim_many.pop(0)
        return {
            event_id: await self.claim(event_id, subscription, now=now, stale_after=stale_after)
            for event_id in event_ids
        }

    async def finish_many(self, outcomes: Sequence[tuple[Claim, DeliveryRecord]]) -> FinishReport:
        self.batch_calls += 1
        report = FinishReport()
        for claim, record in outcomes:
            try:
                await self.finish(claim, record)
            except ConflictError:
                report.conflicts.append(claim)
            except UpstreamUnavailableError:
                report.unwritten.append((claim, record))
        return report

    def _write(self, key: tuple[str, str], record: DeliveryRecord, status: ClaimStatus) -> Claim:
        version = next(self._versions)
        self.records[key] = (record, version)
        return Claim(status, record.event_id, record.subscription, record.attempt, etag=str(version))

    async def finish(self, claim: Claim, record: DeliveryRecord) -> None:
        if self.fail_finish:
            raise self.fail_finish.pop(0)
        key = (claim.event_id, claim.subscription)
        current = self.records.get(key)
        if current is None or str(current[1]) != claim.etag:
            raise ConflictError("the claim was taken over")
        self.records[key] = (record, next(self._versions))

    async def release(self, claim: Claim) -> None:
        key = (claim.event_id, claim.subscription)
        current = self.records.get(key)
        if current is not None and str(current[1]) == claim.etag:
            self.records[key] = (replace(current[0], state=DeliveryState.RELEASED), next(self._versions))

    async def forget(self, event_id: str, subscription: str) -> None:
        self.records.pop((event_id, subscription), None)

    async def get(self, event_id: str, subscription: str) -> DeliveryRecord | None:
        current = self.records.get((event_id, subscription))
        return current[0] if current else None


class InMemoryQuarantineStore:
    def __init__(self) -> None:
        self.items: dict[str, QuarantinedMessage] = {}

    async def add(self, message: QuarantinedMessage) -> None:
        self.items[message.id] = message

    async def list(self) -> list[QuarantinedMessage]:
        return list(self.items.values())

    async def get(self, quarantine_id: str) -> QuarantinedMessage | None:
        return self.items.get(quarantine_id)

    async def mark_replayed(self, quarantine_id: str, at: datetime) -> None:
        self.items[quarantine_id] = replace(self.items[quarantine_id], replayed_at=at)


@dataclass
class RecordingPublisher:
    published: list[tuple[str, OutgoingMessage]] = field(default_factory=list)
    scheduled: list[tuple[str, OutgoingMessage, datetime]] = field(default_factory=list)
    fail_schedule: list[Exception] = field(default_factory=list)

    async def publish(self, topic: str, messages: Sequence[OutgoingMessage]) -> None:
        self.published.extend((topic, message) for message in messages)

    async def schedule(self, topic: str, messages: Sequence[OutgoingMessage], at: datetime) -> None:
        if self.fail_schedule:
            raise self.fail_schedule.pop(0)
        self.scheduled.extend((topic, message, at) for message in messages)


class RecordingRealtime:
    """SignalR as the use cases see it: ``connected`` users are online; ``down`` fails every call with that error."""

    def __init__(self, connected: Sequence[str] = ()) -> None:
        self.connected = set(connected)
        self.sent: list[tuple[str, str, list[Any]]] = []
        self.down: Exception | None = None
        self.fail_sends: list[Exception] = []
        self.presence_checks = 0

    client_origin = "http://signalr.test"

    async def client_connection(self, user_id: str) -> ClientConnection:
        return ClientConnection(url="http://signalr.test/client/?hub=notifications", access_token=f"token-{user_id}")

    async def is_connected(self, user_id: str) -> bool:
        self.presence_checks += 1
        if self.down is not None:
            raise self.down
        return user_id in self.connected

    async def send_to_user(self, user_id: str, target: str, arguments: Sequence[Any]) -> None:
        if self.down is not None:
            raise self.down
        if self.fail_sends:
            raise self.fail_sends.pop(0)
        self.sent.append((user_id, target, list(arguments)))


class InMemoryInboxStore:
    """Entries per (user, id) with a version each; replace is conditional like the Tables adapter's."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], InboxEntry] = {}
        self._versions = itertools.count(1)
        self.fail_replace: list[Exception] = []

    async def add(self, entry: InboxEntry) -> InboxEntry | None:
        key = (entry.user_id, entry.notification_id)
        if key in self.entries:
            return None
        stored = replace(entry, version=str(next(self._versions)))
        self.entries[key] = stored
        return stored

    async def get(self, user_id: str, notification_id: str) -> InboxEntry | None:
        return self.entries.get((user_id, notification_id))

    async def replace(self, entry: InboxEntry) -> InboxEntry:
        if self.fail_replace:
            raise self.fail_replace.pop(0)
        key = (entry.user_id, entry.notification_id)
        current = self.entries.get(key)
        if current is None:
            raise NotFoundError(entry.notification_id)
        if current.version != entry.version:
            raise ConflictError("changed meanwhile")
        stored = replace(entry, version=str(next(self._versions)))
        self.entries[key] = stored
        return stored

    async def list(self, user_id: str, *, limit: int, cursor: str | None, now: datetime) -> InboxPage:
        mine = sorted(
            (e for (user, _), e in self.entries.items() if user == user_id and e.expires_at > now),
            key=lambda e: (e.created_at, e.notification_id),
            reverse=True,
        )
        if cursor is not None and not cursor.isdigit():
            raise ValidationError("bad cursor")
        start = int(cursor or 0)
        page = mine[start : start + limit]
        return InboxPage(page, str(start + limit) if start + limit < len(mine) else None)


@dataclass
class InMemoryDeadLetters:
    items: list[DeadLetteredMessage] = field(default_factory=list)
    replayed: list[str] = field(default_factory=list)

    async def list_dead_letters(self) -> list[DeadLetteredMessage]:
        return list(self.items)

    async def replay(self, dead_letter_id: str) -> DeadLetteredMessage:
        for item in self.items:
            if item.id == dead_letter_id:
                self.items.remove(item)
                self.replayed.append(dead_letter_id)
                return item
        raise NotFoundError(dead_letter_id)


class RecordingPushGateway:
    """Keeps installations and sends as NH would receive them; ``fail_sends`` raises the given errors in order."""

    def __init__(self) -> None:
        self.installations: dict[str, Installation] = {}
        self.patches: list[tuple[str, list[PatchOperation]]] = []
        self.sends: list[tuple[Notification, str | None]] = []
        self.deleted: list[str] = []
        self.fail_sends: list[Exception] = []
        self.fail_events: dict[str, Exception] = {}  # sends whose body names the event id fail with the error
        self.fail_next_put: Exception | None = None
        # Scheduled sends NH still holds, the ones cancelled, and what per-message telemetry answers per id
        # (an id absent from ``details`` raises NotFoundError, as NH does before it has any).
        self.scheduled: dict[str, tuple[Notification, datetime, str | None]] = {}
        self.cancelled: list[str] = []
        self.details: dict[str, NotificationDetails] = {}

    async def create_or_update_installation(self, installation: Installation) -> NhResponse:
        if self.fail_next_put is not None:
            error, self.fail_next_put = self.fail_next_put, None
            raise error
        self.installations[installation.installation_id] = installation
        return NhResponse(tracking_id="t", correlation_id="c", location=None)

    async def patch_installation(self, installation_id: str, operations: Sequence[PatchOperation]) -> NhResponse:
        self.patches.append((installation_id, list(operations)))
        return NhResponse(tracking_id="t", correlation_id="c", location=None)

    async def get_installation(self, installation_id: str) -> Installation:
        if installation_id not in self.installations:
            raise NotFoundError("Installation not found.")
        return self.installations[installation_id]

    async def delete_installation(self, installation_id: str) -> NhResponse:
        self.installations.pop(installation_id, None)
        self.deleted.append(installation_id)
        return NhResponse(tracking_id="t", correlation_id="c", location=None)

    async def send(self, notification: Notification, *, tag_expression: str | None = None) -> SendResult:
        if self.fail_sends:
            raise self.fail_sends.pop(0)
        for event_id, error in self.fail_events.items():
            if event_id in notification.body:
                raise error
        self.sends.append((notification, tag_expression))
        return SendResult(tracking_id="t", correlation_id="c", location=None, notification_id=f"n{len(self.sends)}")

    async def test_send(self, notification: Notification, *, tag_expression: str | None = None) -> NotificationOutcome:
        self.sends.append((notification, tag_expression))
        return NotificationOutcome(success=1, failure=0, results=[])

    async def schedule(
        self, notification: Notification, at: datetime, *, tag_expression: str | None = None
    ) -> ScheduledSendResult:
        if self.fail_sends:
            raise self.fail_sends.pop(0)
        scheduled_id = f"s{len(self.scheduled) + len(self.cancelled) + 1}"
        self.scheduled[scheduled_id] = (notification, at, tag_expression)
        return ScheduledSendResult(tracking_id="t", correlation_id="c", location=None, scheduled_id=scheduled_id)

    async def cancel_scheduled(self, scheduled_id: str) -> NhResponse:
        if self.scheduled.pop(scheduled_id, None) is None:
            raise NotFoundError("The scheduled notification was not found")
        self.cancelled.append(scheduled_id)
        return NhResponse(tracking_id="t", correlation_id="c", location=None)

    async def get_notification_details(self, notification_id: str) -> NotificationDetails:
        found = self.details.get(notification_id)
        if found is None:
            raise NotFoundError("The notification was not found or has not been processed yet")
        return found

    def fire_due(self, now: datetime) -> list[str]:
        """Send every scheduled notification due at ``now``, as NH's scheduler would; returns their ids."""
        due = [sid for sid, (_, at, _) in self.scheduled.items() if at <= now]
        for scheduled_id in due:
            notification, _, expression = self.scheduled.pop(scheduled_id)
            self.sends.append((notification, expression))
        return due


class InMemorySecureContentStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], SecureItem] = {}

    async def get(self, user_id: str, notification_id: str) -> SecureItem | None:
        return self.items.get((user_id, notification_id))

    async def put(self, item: SecureItem) -> None:
        self.items[(item.user_id, item.notification_id)] = item


class InMemoryCampaignStore:
    """Keeps each row with a version; writes carrying an older etag fail with ConflictError, as Tables' 412."""

    def __init__(self) -> None:
        self.campaigns: dict[str, tuple[Campaign, int]] = {}
        self.rows: dict[tuple[str, str], tuple[CampaignSend, int]] = {}
        self._versions = itertools.count(1)
        self.fail_replace_send: list[Exception] = []

    async def create(self, campaign: Campaign) -> Campaign:
        if campaign.id in self.campaigns:
            raise ConflictError("exists")
        return self._keep(campaign)

    async def get(self, campaign_id: str) -> Campaign | None:
        found = self.campaigns.get(campaign_id)
        return replace(found[0], etag=str(found[1])) if found else None

    async def list_recent(self, limit: int) -> list[Campaign]:
        found = [replace(c, etag=str(v)) for c, v in self.campaigns.values()]
        return sorted(found, key=lambda c: c.created_at, reverse=True)[:limit]

    async def replace(self, campaign: Campaign) -> Campaign:
        current = self.campaigns.get(campaign.id)
        if current is None or str(current[1]) != campaign.etag:
            raise ConflictError("changed since read")
        return self._keep(campaign)

    async def due(self, now: datetime) -> list[Campaign]:
        found = [await self.get(cid) for cid, (c, _) in self.campaigns.items() if c.next_check and c.next_check <= now]
        return [campaign for campaign in found if campaign is not None]

    async def add_sends(self, sends: Sequence[CampaignSend]) -> None:
        for send in sends:
            self.rows[(send.campaign_id, send.key)] = (replace(send, etag=None), next(self._versions))

    async def sends(self, campaign_id: str, plan_version: int) -> list[CampaignSend]:
        prefix = f"v{plan_version:04d}-"
        found = [
            replace(send, etag=str(version))
            for (cid, key), (send, version) in self.rows.items()
            if cid == campaign_id and key.startswith(prefix)
        ]
        return sorted(found, key=lambda send: send.key)

    async def replace_send(self, send: CampaignSend) -> CampaignSend:
        if self.fail_replace_send:
            raise self.fail_replace_send.pop(0)
        current = self.rows.get((send.campaign_id, send.key))
        if current is None or str(current[1]) != send.etag:
            raise ConflictError("changed since read")
        version = next(self._versions)
        self.rows[(send.campaign_id, send.key)] = (replace(send, etag=None), version)
        return replace(send, etag=str(version))

    def _keep(self, campaign: Campaign) -> Campaign:
        version = next(self._versions)
        self.campaigns[campaign.id] = (replace(campaign, etag=None), version)
        return replace(campaign, etag=str(version))


class FakeTimer:
    """Injected sleep and monotonic clock: sleeping records the delay and advances the clock, nothing waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.delays: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def in_memory_delivery_ports(now: datetime) -> DeliveryPorts:
    """The delivery use cases' ports, all in memory: a fixed clock, short waits, no redelivery hold."""
    return DeliveryPorts(
        push=RecordingPushGateway(),
        deliveries=InMemoryDeliveryLog(),
        quarantine=InMemoryQuarantineStore(),
        preferences=InMemoryPreferencesStore(),
        now=lambda: now,
        stale_after=timedelta(seconds=2),
        in_progress_poll=0.01,
        redelivery_backoff=lambda _count: 0.0,
        secure_content=InMemorySecureContentStore(),
    )


class InMemoryDecisionLedger:
    """DecisionLedger in a dict keyed like the Tables rows (event, recipient, channel); ``fail_with`` makes every
    write raise it, ``hang`` makes every write wait forever (a ledger that does not answer)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str | None, str], Decision] = {}
        self.fail_with: Exception | None = None
        self.hang = False

    @property
    def decisions(self) -> list[Decision]:
        return list(self.rows.values())

    async def record(self, decision: Decision) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        if self.hang:
            await asyncio.Event().wait()
        self.rows[(decision.event_id, decision.user_id, decision.channel.value)] = decision

    def _page(self, found: list[Decision], limit: int, cursor: str | None) -> DecisionPage:
        found.sort(key=lambda d: (d.occurred_at, d.decided_at), reverse=True)
        # Positions like the Tables ledger's: any cursor of the contract's shape pages on (past the end: empty).
        start = int(cursor) if cursor is not None and cursor.isdigit() else (0 if cursor is None else len(found))
        end = start + limit
        return DecisionPage(found[start:end], str(end) if end < len(found) else None)

    async def for_event(self, event_id: str, *, limit: int, cursor: str | None = None) -> DecisionPage:
        return self._page([d for d in self.rows.values() if d.event_id == event_id], limit, cursor)

    async def for_user(self, user_id: str, *, since: datetime, limit: int, cursor: str | None = None) -> DecisionPage:
        found = [d for d in self.rows.values() if d.user_id == user_id and d.occurred_at >= since]
        return self._page(found, limit, cursor)

    async def broadcasts(self, *, since: datetime, limit: int, cursor: str | None = None) -> DecisionPage:
        return self._page([d for d in self.rows.values() if d.broadcast and d.occurred_at >= since], limit, cursor)

    async def recent(self, *, since: datetime, until: datetime, limit: int) -> list[Decision]:
        return self._page([d for d in self.rows.values() if since <= d.occurred_at <= until], limit, None).items

    async def sweep(self, *, expired_before: datetime) -> int:
        return 0


class RecordingMetrics:
    """PipelineMetrics that keeps what it was told."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.decisions: list[tuple[str, str, str]] = []
        self.accepted: list[tuple[str, float]] = []
        self.dead_letters: list[tuple[str, str]] = []

    def event_received(self, event_type: str) -> None:
        self.received.append(event_type)

    def decision(self, decision: Decision) -> None:
        self.decisions.append((decision.outcome.value, decision.reason, decision.channel.value))

    def push_accepted(self, event_type: str, latency_seconds: float) -> None:
        self.accepted.append((event_type, latency_seconds))

    def dead_lettered(self, kind: str, reason: str) -> None:
        self.dead_letters.append((kind, reason))


def in_memory_realtime_ports(now: datetime, connected: Sequence[str] = ()) -> DeliveryPorts:
    """Delivery ports with real-time delivery: SignalR, the inbox, a publisher that schedules, all in memory."""
    return replace(
        in_memory_delivery_ports(now),
        realtime=RecordingRealtime(connected),
        inbox=InMemoryInboxStore(),
        publisher=RecordingPublisher(),
        installations=InMemoryInstallationMirror(),
        fallback_after=timedelta(seconds=5),
    )
