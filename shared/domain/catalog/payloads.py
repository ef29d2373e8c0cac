"""The ``data`` schemas of every LoB event type: required fields per DESIGN.md, extra fields accepted and ignored.

Field types come from ``wire_types``, whose checks are exactly their JSON Schemas (published in the catalog and
the OpenAPI document). Wire data is validated by alias only (``parse_cloud_event``); field names work in code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from shared.domain.catalog.wire_types import (
    Currency,
    HttpsUrl,
    Identifier,
    IsoDate,
    Name,
    NonNegativeAmount,
    PositiveAmount,
    Text,
)

__all__ = [
    "BudgetApprovalDecided",
    "BudgetApprovalRequested",
    "DebitPosted",
    "EmployeeJoined",
    "EmployeeLeft",
    "EmployeeTeamChanged",
    "LobPayload",
    "OrderEvent",
    "OrderRejected",
    "OrderShipped",
]


class LobPayload(BaseModel):
    """Base of every payload: camelCase on the wire, unknown fields ignored, immutable once validated."""

    model_config = ConfigDict(
        extra="ignore", alias_generator=to_camel, populate_by_name=True, frozen=True, allow_inf_nan=False
    )


class EmployeeJoined(LobPayload):
    employee_id: Identifier
    display_name: Name
    team: Name


class EmployeeLeft(LobPayload):
    employee_id: Identifier
    display_name: Name


class EmployeeTeamChanged(LobPayload):
    employee_id: Identifier
    display_name: Name
    from_team: Name
    to_team: Name


class BudgetApprovalRequested(LobPayload):
    request_id: Identifier
    approver_id: Identifier
    requester_id: Identifier
    requester_name: Name
    amount: PositiveAmount
    currency: Currency
    purpose: Text


class BudgetApprovalDecided(LobPayload):
    request_id: Identifier
    requester_id: Identifier
    approver_name: Name
    decision: Literal["approved", "rejected"]
    amount: PositiveAmount
    currency: Currency


class DebitPosted(LobPayload):
    account_id: Identifier
    owner_id: Identifier
    amount: PositiveAmount
    currency: Currency
    merchant: Name


class OrderEvent(LobPayload):
    """``orders.order.placed``, ``.confirmed`` and ``.delivered``."""

    order_id: Identifier
    customer_id: Identifier
    total: NonNegativeAmount
    currency: Currency


class OrderShipped(OrderEvent):
    carrier: Name
    tracking_url: HttpsUrl
    estimated_delivery: IsoDate | None = None  # optional; named in the notification when present


class OrderRejected(OrderEvent):
    """``orders.order.rejected``: why fulfilment refused the order (the fulfilment rule set names the reasons)."""

    reason: Literal["unknown_sku", "currency_mismatch", "price_mismatch", "payment_declined"]
