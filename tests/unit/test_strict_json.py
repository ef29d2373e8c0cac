"""strict_json: RFC 8259 JSON that every parser reads alike; hostile text is a ValueError with a reason, never more."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.strict_json import MAX_DEPTH, UnsafeJsonError, loads


class TestAccepts:
    def test_plain_json(self):
        assert loads(b'{"a": [1, 2.5, "x", true, null], "b": {}}') == {"a": [1, 2.5, "x", True, None], "b": {}}

    def test_str_as_well_as_bytes(self):
        assert loads('{"ä": "ö"}') == {"ä": "ö"}

    def test_numbers_as_decimals_on_request(self):
        assert loads(b'{"amount": 1234567890123.4567}', decimal_numbers=True) == {
            "amount": Decimal("1234567890123.4567")
        }

    def test_nesting_up_to_the_limit(self):
        text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
        assert loads(text) == json.loads(text)

    def test_escaped_surrogate_pairs_are_text(self):
        assert loads(b'"\\ud83d\\ude80"') == "\U0001f680"

    @settings(max_examples=200, deadline=None)
    @given(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
            max_leaves=30,
        )
    )
    def test_whatever_json_dumps_writes_reads_back_equal(self, value):
        assert loads(json.dumps(value)) == value


class TestRefuses:
    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            (b"[" * 100_000, "nested more than"),
            (b'{"a":' * 100_000, "nested more than"),
            (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested more than"),
            (b'{"a": 1, "a": 2}', "appears twice"),
            (b'{"x": {"a": 1, "b": 2, "a": 1}}', "appears twice"),
            (b"1e400", "too large"),
            (b"[-1e400]", "too large"),
            (b"9" * 5000, "too many digits"),
            (b"NaN", "not a JSON value"),
            (b"[Infinity]", "not a JSON value"),
            (b"\xff\xfe{}", "not UTF-8"),
            (b'{"a": "\xc3"}', "not UTF-8"),
            ("{}".encode("utf-16"), "not UTF-8"),
            (b"\xef\xbb\xbf{}", "BOM"),
            (b'"\\ud800"', "lone surrogate"),
            (b'["ok", "\\udfff tail"]', "lone surrogate"),
            (b'{"\\udc00": 1}', "lone surrogate"),
            (b"", "not JSON"),
            (b"{'a': 1}", "not JSON"),
            (b"[1,]", "not JSON"),
        ],
    )
    def test_hostile_text_is_an_unsafe_json_error_saying_why(self, text, reason):
        with pytest.raises(UnsafeJsonError, match=reason):
            loads(text)

    def test_is_a_value_error(self):
        assert issubclass(UnsafeJsonError, ValueError)

    def test_the_reason_does_not_echo_a_long_name(self):
        with pytest.raises(UnsafeJsonError) as info:
            loads(b'{"' + b"k" * 10_000 + b'": 1, "' + b"k" * 10_000 + b'": 2}')
        assert len(str(info.value)) < 200

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=256))
    def test_arbitrary_bytes_decode_as_json_or_raise_only_unsafe_json_error(self, data):
        try:
            value = loads(data)
        except UnsafeJsonError:
            return
        assert value == json.loads(data.decode("utf-8"))
