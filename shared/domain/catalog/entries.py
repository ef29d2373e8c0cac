"""The event catalog as data: for each LoB event type its topic, schema, audience, text, link and delivery."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import quote

from shared.domain.catalog.payloads import (
    BudgetApprovalDecided,
    BudgetApprovalRequested,
    DebitPosted,
    EmployeeJoined,
    EmployeeLeft,
    EmployeeTeamChanged,
    LobPayload,
    OrderEvent,
    OrderRejected,
    OrderShipped,
)
from shared.domain.device_templates import TemplateName
from shared.domain.tag_policy import topic_tag, user_tag
from shared.domain.topics import TOPICS

__all__ = ["CATALOG", "CHANNEL_POLICIES", "MAX_EVENT_BYTES", "CatalogEntry", "ChannelPolicy", "Priority"]

MAX_EVENT_BYTES = 256 * 1024  # a Service Bus Standard message; larger events could never be published

Priority = Literal["high", "normal"]
# Which channels carry the notification (shared.domain.channels has the rules): push only, in-app first with push
# as the fallback, or both at once.
ChannelPolicy = Literal["push", "inapp-first", "inapp-and-push"]
CHANNEL_POLICIES: tuple[ChannelPolicy, ...] = ("push", "inapp-first", "inapp-and-push")


def _no_variant(_payload: Any) -> str | None:
    return None


@dataclass(frozen=True)
class CatalogEntry:
    """One event type. ``recipient_field`` names the payload field holding the user told; ``None`` = topic news."""

    event_type: str
    topic: str
    payload: type[LobPayload]
    recipient_field: str | None
    deep_link: str  # "{wireName}" placeholders, filled with URL-encoded payload values
    category: str  # groups notifications on the device (APNs thread-id, FCM/WNS data)
    delivery: TemplateName
    priority: Priority
    ttl: timedelta
    example: Mapping[str, Any]
    variant: Callable[[Any], str | None] = _no_variant
    # Secure-payload mode (shared.domain.secure_payload): the push carries a neutral text and the notification id;
    # the content waits in the recipient's inbox. Only for entries addressed to one user.
    sensitive: bool = False
    channels: ChannelPolicy = "push"
    # How long an in-app notification may stay unconfirmed before the push goes out; None: the app's setting.
    fallback_after: timedelta | None = None

    @property
    def source(self) -> str:
        return TOPICS[self.topic]

    def recipient(self, payload: LobPayload) -> str | None:
        """The user id this event is addressed to, or ``None`` for a topic broadcast."""
        return None if self.recipient_field is None else str(getattr(payload, self.recipient_field))

    def audience(self, payload: LobPayload) -> str:
        """The tag expression of who is told: the recipient's user tag, or the topic tag."""
        recipient = self.recipient(payload)
        return topic_tag(self.topic) if recipient is None else user_tag(recipient)

    def audience_pattern(self) -> str:
        """The audience as documentation: ``topic:hr`` or ``user:{approverId}``."""
        if self.recipient_field is None:
            return topic_tag(self.topic)
        return "user:{" + str(self.payload.model_fields[self.recipient_field].alias) + "}"

    def message_key(self, payload: LobPayload) -> str:
        variant = self.variant(payload)
        return self.event_type if variant is None else f"{self.event_type}.{variant}"

    def link(self, payload: LobPayload) -> str:
        values = payload.model_dump(mode="json", by_alias=True)
        return self.deep_link.format_map({key: quote(str(value), safe="") for key, value in values.items()})


_HOUR = timedelta(hours=1)
_ORDER_EXAMPLE = {"orderId": "SO-104233", "customerId": "c.weber", "total": "1234.50", "currency": "EUR"}
_APPROVAL_LINK = "enterprisepush://finance/approvals/{requestId}"


def _hr_news(type_: str, payload: type[LobPayload], example: Mapping[str, Any]) -> CatalogEntry:
    return CatalogEntry(
        event_type=type_,
        topic="hr",
        payload=payload,
        recipient_field=None,
        deep_link="enterprisepush://hr/people/{employeeId}",
        category="hr.people",
        delivery="alert",
        priority="normal",
        ttl=24 * _HOUR,
        example=example,
    )


def _order_update(
    type_: str,
    payload: type[OrderEvent],
    *,
    delivery: TemplateName,
    ttl: timedelta,
    example: Mapping[str, Any] = _ORDER_EXAMPLE,
    variant: Callable[[Any], str | None] = _no_variant,
    channels: ChannelPolicy = "inapp-first",
) -> CatalogEntry:
    return CatalogEntry(
        event_type=type_,
        topic="orders",
        payload=payload,
        recipient_field="customer_id",
        deep_link="enterprisepush://orders/{orderId}",
        category="orders.status",
        delivery=delivery,
        priority="normal",
        ttl=ttl,
        example=example,
        variant=variant,
        channels=channels,
    )


_ENTRIES = (
    _hr_news(
        "hr.employee.joined",
        EmployeeJoined,
        {"employeeId": "E-2091", "displayName": "Jana Novák", "team": "Platform Engineering"},
    ),
    _hr_news("hr.employee.left", EmployeeLeft, {"employeeId": "E-1177", "displayName": "Tomás Ruiz"}),
    _hr_news(
        "hr.employee.team_changed",
        EmployeeTeamChanged,
        {"employeeId": "E-1502", "displayName": "Priya Shah", "fromTeam": "Payments", "toTeam": "Risk"},
    ),
    CatalogEntry(
        event_type="finance.budget_approval.requested",
        topic="finance",
        payload=BudgetApprovalRequested,
        recipient_field="approver_id",
        deep_link=_APPROVAL_LINK,
        category="finance.approvals",
        delivery="alert",
        priority="high",
        ttl=72 * _HOUR,
        example={
            "requestId": "BR-5521",
            "approverId": "m.keller",
            "requesterId": "l.garcia",
            "requesterName": "Lucía García",
            "amount": "1234.50",
            "currency": "EUR",
            "purpose": "Conference travel",
        },
        channels="inapp-first",
    ),
    CatalogEntry(
        event_type="finance.budget_approval.decided",
        topic="finance",
        payload=BudgetApprovalDecided,
        recipient_field="requester_id",
        deep_link=_APPROVAL_LINK,
        category="finance.approvals",
        delivery="alert",
        priority="high",
        ttl=72 * _HOUR,
        example={
            "requestId": "BR-5521",
            "requesterId": "l.garcia",
            "approverName": "Martin Keller",
            "decision": "approved",
            "amount": "1234.50",
            "currency": "EUR",
        },
        variant=lambda payload: payload.decision,
        channels="inapp-first",
    ),
    CatalogEntry(
        event_type="accounts.debit.posted",
        topic="accounts",
        payload=DebitPosted,
        recipient_field="owner_id",
        deep_link="enterprisepush://accounts/{accountId}",
        category="accounts.debits",
        delivery="alert",
        priority="high",
        ttl=24 * _HOUR,
        example={
            "accountId": "ACC-88120",
            "ownerId": "s.brown",
            "amount": "249.99",
            "currency": "GBP",
            "merchant": "Rail Europe",
        },
        sensitive=True,
        # A large debit may be fraud: the user must hear of it now even with the app open.
        channels="inapp-and-push",
    ),
    # The customer has just ordered in the app: refresh it quietly rather than ring.
    _order_update("orders.order.placed", OrderEvent, delivery="silent", ttl=_HOUR, channels="push"),
    _order_update("orders.order.confirmed", OrderEvent, delivery="alert", ttl=24 * _HOUR),
    _order_update(
        "orders.order.shipped",
        OrderShipped,
        delivery="alert",
        ttl=48 * _HOUR,
        example={
            **_ORDER_EXAMPLE,
            "carrier": "DHL",
            "trackingUrl": "https://tracking.example.com/track?id=JD014600006281234567",
            "estimatedDelivery": "2025-03-14",
        },
        variant=lambda payload: None if payload.estimated_delivery is None else "dated",
    ),
    _order_update("orders.order.delivered", OrderEvent, delivery="alert", ttl=24 * _HOUR),
    _order_update(
        "orders.order.rejected",
        OrderRejected,
        delivery="alert",
        ttl=24 * _HOUR,
        example={**_ORDER_EXAMPLE, "reason": "payment_declined"},
        variant=lambda payload: payload.reason,
    ),
)

# Typed read-only; a plain dict underneath so that a test can add a LoB system in test data only.
CATALOG: Mapping[str, CatalogEntry] = {entry.event_type: entry for entry in _ENTRIES}
