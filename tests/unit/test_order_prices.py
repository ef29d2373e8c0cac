"""The unit price patterns the order document states per currency are the rule the server enforces: every price a
pattern admits is accepted in each of its currencies, and any decimal string is accepted exactly when it matches."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError as ModelError

from shared.api.order_schemas import OrderRequest
from shared.domain.errors import ValidationError
from shared.domain.orders.model import OrderLine, new_order
from shared.domain.orders.prices import currencies_by_digits, unit_price_pattern

GROUPS = currencies_by_digits()


def accepted(price: str, currency: str) -> bool:
    """What POST /orders does with one line at ``price``: the request model, then the domain's checks."""
    body = {"items": [{"sku": "MUG-01", "quantity": 1, "unitPrice": price}], "currency": currency}
    try:
        command = OrderRequest.model_validate(body).to_command(None)
        lines = [OrderLine(item.sku, item.quantity, item.unit_price) for item in command.items]
        new_order("SO-1", "alice", command.currency, lines, datetime(2026, 1, 1, tzinfo=UTC))
    except (ModelError, ValidationError):
        return False
    return True


def test_the_groups_cover_zero_two_three_and_four_decimal_places_each_currency_once():
    assert {0, 2, 3, 4} <= set(GROUPS)
    assert sum(len(codes) for codes in GROUPS.values()) == len({code for codes in GROUPS.values() for code in codes})
    assert [digits for digits, codes in GROUPS.items() for code in ("JPY", "EUR", "KWD") if code in codes] == [0, 2, 3]


@pytest.mark.parametrize("digits", sorted(GROUPS))
@settings(deadline=None)
@given(data=st.data())
def test_every_price_a_pattern_admits_is_accepted_in_each_currency_of_its_group(digits: int, data: st.DataObject):
    price = data.draw(st.from_regex(unit_price_pattern(digits), fullmatch=True))
    currency = data.draw(st.sampled_from(GROUPS[digits]))
    assert accepted(price, currency), (price, currency)


DECIMALS = st.builds(
    lambda whole, fraction: whole + ("." + fraction if fraction is not None else ""),
    st.from_regex(r"[0-9]{1,7}", fullmatch=True),
    st.none() | st.from_regex(r"[0-9]{0,6}", fullmatch=True),
)


@pytest.mark.parametrize("currency", ["JPY", "EUR", "KWD", "CLF"])
@settings(deadline=None)
@given(price=DECIMALS | st.sampled_from(["0", "0.00", "100000", "100000.0000", "100000.01", "12.500", "1.", ".5"]))
def test_a_decimal_string_is_accepted_exactly_when_its_currency_pattern_matches(currency: str, price: str):
    [digits] = [digits for digits, codes in GROUPS.items() if currency in codes]
    assert accepted(price, currency) == bool(re.fullmatch(unit_price_pattern(digits), price)), price
