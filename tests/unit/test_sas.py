"""SAS tokens as the client signs them: the NH-REST test vector, and caching with an injected clock."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta
from urllib.parse import quote

import pytest

from shared.notification_hubs.errors import NhConfigurationError
from shared.notification_hubs.sas import SasTokenProvider, sas_token
from tests.support.sas_vector import KEY, NAMESPACE, RULE, VECTOR, fields_of, reference_signature


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class TestSasToken:
    def test_reproduces_the_documented_test_vector(self):
        assert sas_token(NAMESPACE, RULE, KEY, 1700000000) == VECTOR

    def test_audience_is_lower_cased_before_encoding(self):
        assert sas_token("HTTPS://MyNs.ServiceBus.Windows.NET/", RULE, KEY, 1700000000) == VECTOR

    @pytest.mark.parametrize(
        ("audience", "key", "se"),
        [
            ("https://ns.servicebus.windows.net/hub", "secret", 1),
            ("http://ns.servicebus.windows.net/hub/messages/", "k+/=ey", 4102444800),
            ("https://ns.servicebus.windows.net/a b/ü?x=1&y", "ключ", 1700000123),
        ],
    )
    def test_signature_matches_an_independent_hmac_when_inputs_vary(self, audience, key, se):
        fields = fields_of(sas_token(audience, "rule name", key, se))

        expected_sr = quote(audience.lower(), safe="")
        assert fields["sr"] == expected_sr
        assert fields["sig"] == quote(reference_signature(expected_sr, se, key), safe="")
        assert fields["se"] == str(se)
        assert fields["skn"] == "rule%20name"

    def test_key_is_used_as_written_not_base64_decoded(self):
        decoded_key = base64.b64decode(KEY).decode()
        sr = quote(NAMESPACE, safe="")

        sig = fields_of(sas_token(NAMESPACE, RULE, KEY, 1700000000))["sig"]

        assert sig == quote(reference_signature(sr, 1700000000, KEY), safe="")
        assert sig != quote(reference_signature(sr, 1700000000, decoded_key), safe="")


class TestSasTokenProvider:
    def test_expiry_is_clock_plus_lifetime_in_whole_epoch_seconds(self):
        provider = SasTokenProvider(RULE, KEY, NAMESPACE, lifetime=timedelta(minutes=20), clock=FakeClock(1000.7))

        assert fields_of(provider.token())["se"] == str(1000 + 20 * 60)

    def test_token_is_reused_until_the_refresh_margin_before_expiry(self):
        clock = FakeClock(1_700_000_000)
        provider = SasTokenProvider(
            RULE, KEY, NAMESPACE, lifetime=timedelta(minutes=20), refresh_margin=timedelta(minutes=2), clock=clock
        )
        first = provider.token()

        clock.now += 18 * 60 - 1
        assert provider.token() == first

        clock.now += 1
        second = provider.token()
        assert second != first
        assert fields_of(second)["se"] == str(1_700_000_000 + 18 * 60 + 20 * 60)

    def test_token_is_reissued_when_the_clock_jumps_past_expiry(self):
        clock = FakeClock(100)
        provider = SasTokenProvider(RULE, KEY, NAMESPACE, clock=clock)
        first = provider.token()

        clock.now += 3600

        assert provider.token() != first
        assert int(fields_of(provider.token())["se"]) > clock.now

    def test_refuses_a_margin_that_leaves_no_lifetime(self):
        with pytest.raises(NhConfigurationError):
            SasTokenProvider(RULE, KEY, NAMESPACE, lifetime=timedelta(minutes=2), refresh_margin=timedelta(minutes=2))

    def test_repr_and_debug_logs_never_contain_the_key_or_token(self, caplog):
        provider = SasTokenProvider(RULE, KEY, NAMESPACE, clock=FakeClock(1_700_000_000))
        with caplog.at_level(logging.DEBUG, logger="shared.notification_hubs.sas"):
            token = provider.token()

        signature = fields_of(token)["sig"]
        for text in (repr(provider), caplog.text):
            assert KEY not in text
            assert signature not in text
        assert caplog.records, "the provider should log that it signed a token"
