"""The shop page's Content-Security-Policy: the app itself, plus exactly the SignalR origin negotiate hands out."""

from __future__ import annotations

import pytest

from shared.api.pages.shop import content_security_policy


def directives(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


class TestContentSecurityPolicy:
    def test_without_real_time_the_page_connects_to_the_app_only(self):
        """No SignalR configured: connect-src is the app's own origin, and nothing is inline or wildcarded."""
        policy = directives(content_security_policy(None))
        assert policy["connect-src"] == "'self'"
        assert (policy["default-src"], policy["script-src"], policy["style-src"]) == ("'none'", "'self'", "'self'")
        assert "unsafe-inline" not in content_security_policy(None)

    @pytest.mark.parametrize(
        ("origin", "allowed"),
        [
            ("http://127.0.0.1:8888", "'self' http://127.0.0.1:8888 ws://127.0.0.1:8888"),
            ("https://s.service.signalr.net", "'self' https://s.service.signalr.net wss://s.service.signalr.net"),
        ],
    )
    def test_the_signalr_origin_is_allowed_over_http_and_its_websocket_scheme(self, origin: str, allowed: str):
        policy = content_security_policy(origin)
        assert directives(policy)["connect-src"] == allowed
        assert "*" not in policy

    @pytest.mark.parametrize("origin", ["", "javascript:alert(1)", "ftp://s", "https://", "https://u:p@s.example"])
    def test_anything_but_a_plain_http_origin_adds_nothing(self, origin: str):
        assert directives(content_security_policy(origin))["connect-src"] == "'self'"
