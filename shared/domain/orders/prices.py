"""Unit prices an order line may carry, per currency: the one rule the order API documents and the domain enforces.

A unit price is a decimal string, greater than 0 and at most MAX_UNIT_PRICE, with at most as many significant
decimal places as the currency has minor units (Babel's currency digits: 2 for EUR, 0 for JPY, 3 for KWD).
Trailing zeros are not precision ("12.500" is 12.5 EUR), up to MAX_WRITTEN_DECIMALS written places.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from babel.numbers import get_currency_precision, list_currencies

__all__ = [
    "CURRENCY_DIGITS",
    "MAX_UNIT_PRICE",
    "MAX_WRITTEN_DECIMALS",
    "currencies_by_digits",
    "unit_price_pattern",
]

MAX_UNIT_PRICE: Final = Decimal("100000")
MAX_WRITTEN_DECIMALS: Final = 4
# Every ISO 4217 currency Babel knows, with its minor units: the order API accepts them all on purpose (the product
# list's currency is fulfilment's rule, `currency_mismatch`).
CURRENCY_DIGITS: Final[Mapping[str, int]] = {code: get_currency_precision(code) for code in sorted(list_currencies())}


def currencies_by_digits() -> dict[int, list[str]]:
    """The currencies grouped by their minor units, fewest digits first."""
    groups: dict[int, list[str]] = {}
    for code, digits in CURRENCY_DIGITS.items():
        groups.setdefault(digits, []).append(code)
    return dict(sorted(groups.items()))


def unit_price_pattern(digits: int) -> str:
    """A regular expression for exactly the unit prices valid in a currency with ``digits`` minor units."""
    pad = MAX_WRITTEN_DECIMALS - digits  # zeros that may follow the significant places
    integer = int(MAX_UNIT_PRICE)
    below = f"[1-9][0-9]{{0,{len(str(integer)) - 2}}}"  # 1 .. 10^(n-1) - 1, with MAX_UNIT_PRICE = 10^(n-1)
    zeros = f"\\.0{{1,{MAX_WRITTEN_DECIMALS}}}"
    fraction = f"\\.[0-9]{{1,{digits}}}{_upto('0', pad)}" if digits else zeros
    small = [f"0\\.{'0' * (k - 1)}[1-9]{_upto('[0-9]', digits - k)}{_upto('0', pad)}" for k in range(1, digits + 1)]
    alternatives = [f"{below}({fraction})?", *small, f"{integer}({zeros})?"]
    return "^(" + "|".join(alternatives) + ")$"


def _upto(atom: str, times: int) -> str:
    return f"{atom}{{0,{times}}}" if times else ""
