"""Delivery rules that depend on the recipient: the debit threshold and quiet hours.

Quiet hours: an alert addressed to one user that falls inside that user's quiet hours is delivered with the
"silent" template instead (data only: no sound, no banner; the app can still show it in its inbox). The
window is evaluated in the user's own IANA time zone; it may span midnight (22:00-07:00); ``start`` is
inclusive and ``end`` exclusive; ``start == end`` means no quiet hours. Topic broadcasts (HR news) reach many
users with one send, so they cannot honour anyone's quiet hours and always go out as alerts.
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.domain.device_templates import TemplateName
from shared.domain.errors import FieldError, ValidationError
from shared.domain.records import QuietHours

__all__ = [
    "DEFAULT_DEBIT_THRESHOLD",
    "debit_reaches_owner",
    "delivery_template",
    "in_quiet_hours",
    "validate_quiet_hours",
]

# Compared with the debit's amount as a plain number, whatever its currency: a threshold of 100 means
# 100 EUR, 100 USD or 100 GBP alike. There is no currency conversion in the push path.
DEFAULT_DEBIT_THRESHOLD = Decimal(100)


def debit_reaches_owner(amount: Decimal, threshold: Decimal | None) -> bool:
    """True when ``amount`` is at or above the owner's threshold (``None``: DEFAULT_DEBIT_THRESHOLD)."""
    return amount >= (DEFAULT_DEBIT_THRESHOLD if threshold is None else threshold)


def validate_quiet_hours(quiet_hours: QuietHours) -> None:
    """Raises ValidationError when the time zone is not a known IANA name (for the preferences API)."""
    if _zone(quiet_hours.time_zone) is None:
        raise ValidationError(
            f"unknown time zone {quiet_hours.time_zone!r}",
            [FieldError("quietHours/timeZone", "expected an IANA time zone such as 'Europe/Berlin'")],
        )


def in_quiet_hours(quiet_hours: QuietHours | None, now: datetime) -> bool:
    """True when ``now`` (timezone-aware) falls inside the window, read on the recipient's local clock.

    A zone that has become unknown since it was stored is read as UTC rather than failing the delivery.
    Raises ValueError for a naive ``now``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if quiet_hours is None or quiet_hours.start == quiet_hours.end:
        return False
    local = now.astimezone(_zone(quiet_hours.time_zone) or ZoneInfo("UTC")).time().replace(tzinfo=None)
    start, end = _naive(quiet_hours.start), _naive(quiet_hours.end)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def delivery_template(
    delivery: TemplateName, quiet_hours: QuietHours | None, now: datetime, *, addressed_to_user: bool
) -> TemplateName:
    """The template to send with: ``delivery`` as catalogued, turned silent during a recipient's quiet hours."""
    if delivery == "alert" and addressed_to_user and in_quiet_hours(quiet_hours, now):
        return "silent"
    return delivery


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _naive(value: time) -> time:
    return value.replace(tzinfo=None)
