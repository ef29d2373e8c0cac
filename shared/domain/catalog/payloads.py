"""The ``data`` schemas of every LoB event type: required fields per DESIGN.md, extra fields accepted and ignored."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from babel.numbers import list_currencies
from pydantic import AfterValidator, AnyUrl, BaseModel, ConfigDict, Field, StringConstraints, UrlConstraints
from pydantic.alias_generators import to_camel

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

_CURRENCIES = frozenset(list_currencies())


def _known_currency(code: str) -> str:
    if code not in _CURRENCIES:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return code


# Identifiers and names must contain something besides whitespace; lengths keep deep links and tags bounded.
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"\S")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"\S")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_known_currency)]
# A JSON number or a numeric string; four decimal places cover every ISO 4217 minor unit.
PositiveAmount = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=4, allow_inf_nan=False)]
Total = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False)]
HttpsUrl = Annotated[AnyUrl, UrlConstraints(max_length=2048, allowed_schemes=["https"], host_required=True)]


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
    total: Total
    currency: Currency


class OrderShipped(OrderEvent):
    carrier: Name
    tracking_url: HttpsUrl
    estimated_delivery: date | None = None  # optional; named in the notification when present


class OrderRejected(OrderEvent):
    """``orders.order.rejected``: why fulfilment refused the order (the fulfilment rule set names the reasons)."""

    reason: Literal["unknown_sku", "currency_mismatch", "price_mismatch", "payment_declined"]
