"""The plain commands the use cases take: what a caller asked for, already parsed, free of HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shared.domain.audience import Audience
from shared.domain.campaigns import CampaignContent, LocalTime, WavePolicy
from shared.domain.records import Platform, QuietHours

__all__ = [
    "DecisionFeedQuery",
    "EventDeliveriesQuery",
    "OrderItem",
    "PlaceOrder",
    "RegisterDevice",
    "SendCampaign",
    "UpdatePreferences",
    "UserDeliveriesQuery",
]


@dataclass(frozen=True)
class RegisterDevice:
    """Register or refresh one device of the caller. ``interests`` None keeps the saved ones."""

    installation_id: str
    platform: Platform
    push_channel: str
    language: str | None = None
    interests: tuple[str, ...] | None = None


@dataclass(frozen=True)
class UpdatePreferences:
    """Replace the caller's whole preference set."""

    interests: tuple[str, ...] = ()
    language: str | None = None
    quiet_hours: QuietHours | None = None
    debit_threshold: Decimal | None = None


@dataclass(frozen=True)
class EventDeliveriesQuery:
    """The decision ledger's records of one event, a page at a time; with ``user_id`` only that user's (and the
    event's broadcast records as they read for the user); with ``since`` nothing if the event occurred earlier."""

    event_id: str
    limit: int = 50
    cursor: str | None = None
    user_id: str | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class UserDeliveriesQuery:
    """The decisions on events for one user since ``since``, a page at a time, with the broadcasts of the window."""

    user_id: str
    since: datetime
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True)
class DecisionFeedQuery:
    """The newest decisions of every kind on events that occurred between ``since`` and ``until``."""

    since: datetime
    until: datetime
    limit: int = 50


@dataclass(frozen=True)
class OrderItem:
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class PlaceOrder:
    """Place an order for the caller (the server computes its total); ``idempotency_key`` makes a retried request
    return the order it made."""

    items: tuple[OrderItem, ...]
    currency: str
    idempotency_key: str | None = None


@dataclass(frozen=True)
class SendCampaign:
    """An operator's send: to ``audience``, now, at ``send_at`` (aware) or at ``local_time`` on each recipient's
    clock, optionally in waves. ``idempotency_key`` (the caller's Idempotency-Key) makes a retry return the first."""

    audience: Audience
    content: CampaignContent
    send_at: datetime | None = None
    local_time: LocalTime | None = None
    waves: WavePolicy | None = None
    idempotency_key: str | None = None
