"""SAS tokens: the NH-REST test vector, caching with an injected clock, and the emulator-side checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from datetime import timedelta
from urllib.parse import quote

import pytest

from shared.notification_hubs.errors import NhConfigurationError, NhValidationError
from shared.notification_hubs.sas import (
    SasToken,
    SasTokenProvider,
    audience_covers,
    parse_sas_token,
    sas_token,
    signature_matches,
)

KEY = "dGVzdGtleXRlc3RrZXl0ZXN0a2V5dGVzdGtleTEyMzQ="
RULE = "DefaultFullSharedAccessSignature"
NAMESPACE = "https://myns.servicebus.windows.net/"
VECTOR = (
    "SharedAccessSignature sr=https%3A%2F%2Fmyns.servicebus.windows.net%2F"
    "&sig=S3OV4oTDIVFgUatgTvBBJbP9%2F9uNyHOumy7QHrBcN4E%3D&se=1700000000&skn=DefaultFullSharedAccessSignature"
)


def reference_signature(sr: str, se: int, key: str) -> str:
    """Computed here with hmac directly, independently of the module under test."""
    digest = hmac.new(key.encode("utf-8"), f"{sr}\n{se}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def fields_of(token: str) -> dict[str, str]:
    _, _, rest = token.partition(" ")
    return dict(part.split("=", 1) for part in rest.split("&"))


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

    def test_issued_token_verifies_with_the_emulator_side_helpers(self):
        provider = SasTokenProvider(RULE, KEY, NAMESPACE, clock=FakeClock(1_700_000_000))

        token = parse_sas_token(provider.token())

        assert signature_matches(token, KEY)
        assert audience_covers(token, "https://myns.servicebus.windows.net/hub/messages/?api-version=2020-06")

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


class TestParseSasToken:
    def test_parses_the_vector_keeping_sr_raw_and_decoding_sig(self):
        token = parse_sas_token(VECTOR)

        assert token == SasToken(
            sr_raw="https%3A%2F%2Fmyns.servicebus.windows.net%2F",
            sig="S3OV4oTDIVFgUatgTvBBJbP9/9uNyHOumy7QHrBcN4E=",
            se=1700000000,
            skn=RULE,
        )

    def test_field_order_does_not_matter(self):
        fields = fields_of(VECTOR)
        reordered = "SharedAccessSignature " + "&".join(f"{k}={fields[k]}" for k in ("sig", "se", "skn", "sr"))

        assert parse_sas_token(reordered) == parse_sas_token(VECTOR)

    def test_repr_hides_the_signature(self):
        assert "S3OV4oTDIVFgUatgTvBBJbP9" not in repr(parse_sas_token(VECTOR))

    @pytest.mark.parametrize(
        ("header", "complaint"),
        [
            ("Bearer abc", "not a SharedAccessSignature"),
            ("SharedAccessSignature", "not a SharedAccessSignature"),
            ("SharedAccessSignature sr=a&sig=b&se=1", "no 'skn'"),
            ("SharedAccessSignature sr=a&sig=&se=1&skn=r", "no 'sig'"),
            ("SharedAccessSignature sr=a&sig=b&se=soon&skn=r", "whole seconds"),
            ("SharedAccessSignature sr=a&sig=b&se=-5&skn=r", "whole seconds"),
            ("SharedAccessSignature sr=a&sig=b&se=017&skn=r", "whole seconds"),
            ("SharedAccessSignature sr=a&sr=b&sig=b&se=1&skn=r", "appears twice"),
            ("SharedAccessSignature sr=a&sig&se=1&skn=r", "name=value"),
        ],
    )
    def test_raises_validation_error_when_header_is_malformed(self, header, complaint):
        with pytest.raises(NhValidationError, match=complaint) as caught:
            parse_sas_token(header)

        assert caught.value.errors[0].location == "Authorization"


class TestSignatureMatches:
    def test_upper_case_escapes_verify(self):
        assert signature_matches(parse_sas_token(VECTOR), KEY)

    def test_lower_case_escapes_verify_because_the_raw_sr_is_signed(self):
        sr = "https%3a%2f%2fmyns.servicebus.windows.net%2f"
        sig = reference_signature(sr, 1700000000, KEY)
        header = f"SharedAccessSignature sr={sr}&sig={quote(sig, safe='')}&se=1700000000&skn={RULE}"

        assert sig.startswith("SMKx0WRM")  # the value NH-REST §1.2 quotes for .NET-style escapes
        assert signature_matches(parse_sas_token(header), KEY)

    def test_wrong_key_does_not_verify(self):
        assert not signature_matches(parse_sas_token(VECTOR), KEY + "x")

    def test_tampered_expiry_does_not_verify(self):
        assert not signature_matches(parse_sas_token(VECTOR.replace("se=1700000000", "se=1800000000")), KEY)

    def test_tampered_audience_does_not_verify(self):
        assert not signature_matches(parse_sas_token(VECTOR.replace("myns", "other")), KEY)


def token_for(audience: str) -> SasToken:
    return parse_sas_token(sas_token(audience, RULE, KEY, 1700000000))


REQUEST = "https://myns.servicebus.windows.net/hub/messages?api-version=2020-06&direct"


class TestAudienceCovers:
    @pytest.mark.parametrize(
        "audience",
        [
            "https://myns.servicebus.windows.net/",
            "sb://myns.servicebus.windows.net/",
            "https://myns.servicebus.windows.net/hub",
            "http://myns.servicebus.windows.net/hub/messages/",
            "https://myns.servicebus.windows.net/hub/messages?api-version=2020-06&direct",
            "https://MYNS.servicebus.windows.net:443/Hub",
        ],
    )
    def test_namespace_hub_path_and_query_scopes_cover_the_request(self, audience):
        assert audience_covers(token_for(audience), REQUEST)

    def test_lower_case_escaped_audience_covers_the_request(self):
        sr = "http%3a%2f%2fmyns.servicebus.windows.net%2fhub%2fmessages%2f"
        token = SasToken(sr_raw=sr, sig="x", se=1, skn=RULE)

        assert audience_covers(token, REQUEST)

    @pytest.mark.parametrize(
        "audience",
        [
            "https://otherns.servicebus.windows.net/",
            "https://myns.servicebus.windows.net/otherhub",
            "https://myns.servicebus.windows.net/hu",
            "https://myns.servicebus.windows.net/hub/installations/",
            "https://myns.servicebus.windows.net/hub/messages?api-version=2020-06&test",
            "https://myns.servicebus.windows.net.evil.example/",
        ],
    )
    def test_other_scopes_do_not_cover_the_request(self, audience):
        assert not audience_covers(token_for(audience), REQUEST)

    def test_emulator_audience_with_port_covers_requests_on_that_port_only(self):
        token = token_for("http://127.0.0.1:9099/")

        assert audience_covers(token, "http://127.0.0.1:9099/hub/installations/abc?api-version=2020-06")
        assert not audience_covers(token, "http://127.0.0.1:9100/hub/installations/abc")
