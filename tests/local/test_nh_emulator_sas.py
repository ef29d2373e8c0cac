"""The emulator's SAS checks (NH-REST §1.3): parsing the header, the signature over the raw sr, the audience."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from local.nh_emulator.sas import SasToken, audience_covers, parse_sas_token, signature_matches
from shared.notification_hubs.errors import NhValidationError
from shared.notification_hubs.sas import SasTokenProvider, sas_token
from tests.support.sas_vector import KEY, NAMESPACE, RULE, VECTOR, fields_of, reference_signature

pytestmark = pytest.mark.local


class TestClientTokens:
    def test_issued_token_verifies_with_the_emulator_side_helpers(self):
        provider = SasTokenProvider(RULE, KEY, NAMESPACE, clock=lambda: 1_700_000_000)

        token = parse_sas_token(provider.token())

        assert signature_matches(token, KEY)
        assert audience_covers(token, "https://myns.servicebus.windows.net/hub/messages/?api-version=2020-06")


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
