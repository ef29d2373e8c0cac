"""Plain records shared by services and adapters: mirror rows, preferences, delivery log, quarantine, bus messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "Claim",
    "ClaimStatus",
    "DeadLetteredMessage",
    "DeliveryRecord",
    "DeliveryState",
    "FinishReport",
    "InstallationRecord",
    "OutgoingMessage",
    "Platform",
    "Preferences",
    "QuarantinedMessage",
    "QuietHours",
]


class Platform(StrEnum):
    APNS = "apns"
    FCMV1 = "fcmv1"
    WNS = "wns"


@dataclass(frozen=True)
class InstallationRecord:
    """One device in the Tables mirror (partition = user). The push handle itself is not stored, only its hash."""

    user_id: str
    installation_id: str
    platform: Platform
    push_channel_hash: str  # sha256 hex of the push channel: finds a handle registered elsewhere (hand-over)
    push_channel_hint: str  # last characters of the handle, for people reading a device list
    language: str
    interests: tuple[str, ...]
    tags: tuple[str, ...]
    state: str  # "pending" while NH is being written, "active" once NH has it
    created_at: datetime
    updated_at: datetime
    # sha256 of the NH installation last written for this row ("" when unknown): an unchanged refresh matches it
    fingerprint: str = ""


@dataclass(frozen=True)
class QuietHours:
    """A daily window, local to ``time_zone`` (IANA name); ``start`` > ``end`` means it spans midnight."""

    start: time
    end: time
    time_zone: str


@dataclass(frozen=True)
class Preferences:
    """What a user chose; ``None`` fields mean the product default."""

    user_id: str
    interests: tuple[str, ...] = ()
    language: str | None = None
    quiet_hours: QuietHours | None = None
    debit_threshold: Decimal | None = None
    updated_at: datetime | None = None


class ClaimStatus(StrEnum):
    CLAIMED = "claimed"  # first claim: go ahead and send
    RESUMED = "resumed"  # a stale claim (crash mid-send) was taken over: send, NH outcome unknown before
    IN_PROGRESS = "in_progress"  # another delivery holds a fresh claim: do not send now, retry later
    DONE = "done"  # already sent (or permanently settled): complete without a second push


class DeliveryState(StrEnum):
    CLAIMED = "claimed"
    SENT = "sent"
    SKIPPED = "skipped"  # nothing to send (e.g. debit under threshold)
    FAILED = "failed"  # permanent NH error: quarantined
    RELEASED = "released"  # the holder gave up after a transient failure: the next delivery may claim at once


@dataclass(frozen=True)
class Claim:
    status: ClaimStatus
    event_id: str
    subscription: str
    attempt: int
    etag: str | None = None


@dataclass(frozen=True)
class DeliveryRecord:
    event_id: str
    subscription: str
    state: DeliveryState
    attempt: int
    claimed_at: datetime
    event_type: str | None = None
    audience: str | None = None
    notification_id: str | None = None
    tracking_id: str | None = None
    correlation_id: str | None = None
    outcome: str | None = None
    finished_at: datetime | None = None
    send_ms: float | None = None
    channel: str | None = None  # which channels delivered: "push", "inapp" or "inapp+push"


@dataclass(frozen=True)
class FinishReport:
    """What a batch of delivery-log finishes left undone: rows another delivery took over since they were claimed
    (``conflicts``), and rows storage could not write for now (``unwritten``, safe to try again)."""

    conflicts: list[Claim] = field(default_factory=list)
    unwritten: list[tuple[Claim, DeliveryRecord]] = field(default_factory=list)


@dataclass(frozen=True)
class QuarantinedMessage:
    """A message that can never be processed as it is, kept with its reason for an operator."""

    id: str
    topic: str
    subscription: str
    message_id: str | None
    reason: str
    description: str
    body: bytes
    content_type: str | None
    subject: str | None
    application_properties: dict[str, str]
    quarantined_at: datetime
    replayed_at: datetime | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to publish to a topic, already in its wire form; ``scheduled_enqueue_time`` (aware) holds it back
    until then (Service Bus scheduled messages)."""

    message_id: str
    subject: str
    content_type: str
    body: bytes
    application_properties: dict[str, str] = field(default_factory=dict)
    scheduled_enqueue_time: datetime | None = None


@dataclass(frozen=True)
class DeadLetteredMessage:
    """A message the bus dead-lettered, as an operator sees it."""

    id: str  # stable id for replay: "{topic}/{subscription}/{sequence number}"
    topic: str
    subscription: str
    message_id: str | None
    reason: str | None
    description: str | None
    body: bytes
    subject: str | None
    content_type: str | None
    application_properties: dict[str, str]
    enqueued_time: datetime | None
    delivery_count: int
