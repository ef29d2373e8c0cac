"""Locale formatting of payload values (money, dates) and filling a catalog message with them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency

from shared.domain.catalog.messages import MESSAGES, Message
from shared.domain.catalog.payloads import LobPayload

__all__ = ["format_day", "format_money", "localized_message", "message_arguments"]

# CLDR's minimumGroupingDigits, which Babel does not apply: Spanish writes "1234,50 €" but "12.345,50 €".
_MIN_GROUPING_DIGITS: Mapping[str, int] = {"es": 2}
_GROUP_SIZE = 3


def format_money(amount: Decimal, currency: str, language: str) -> str:
    """``amount`` in ``currency`` as written in ``language`` (en "€1,234.50", de "1.234,50 €", es "1234,50 €")."""
    min_grouping = _MIN_GROUPING_DIGITS.get(language, 1)
    grouped = abs(amount) >= 10 ** (_GROUP_SIZE + min_grouping - 1)
    return format_currency(amount, currency, locale=language, group_separator=grouped)


def format_day(day: date, language: str) -> str:
    """A calendar date spelled out for ``language`` (en "March 4, 2025", de "4. März 2025")."""
    return format_date(day, format="long", locale=language)


def message_arguments(payload: LobPayload, language: str) -> dict[str, str]:
    """Every payload field by wire name, as text for ``language``: amounts as money in the payload's currency."""
    currency = getattr(payload, "currency", None)
    arguments: dict[str, str] = {}
    for name, field in type(payload).model_fields.items():
        value = getattr(payload, name)
        key = field.alias or name
        if value is None:
            arguments[key] = ""
        elif isinstance(value, Decimal) and isinstance(currency, str):
            arguments[key] = format_money(value, currency, language)
        elif isinstance(value, date):
            arguments[key] = format_day(value, language)
        else:
            # One line per value: a LoB system cannot break a notification's layout with newlines or tabs.
            arguments[key] = " ".join(str(value).split())
    return arguments


def localized_message(message_key: str, payload: LobPayload, language: str) -> Message:
    """The title and body for ``message_key`` in ``language``, filled with the payload. Raises KeyError if absent."""
    template = MESSAGES[message_key][language]
    arguments = message_arguments(payload, language)
    return Message(template.title.format_map(arguments), template.body.format_map(arguments))
