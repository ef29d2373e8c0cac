"""Links in event data: only what a system's allowlist admits reaches a phone; tricks that point elsewhere fail."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.catalog import CATALOG, example_cloud_event
from shared.domain.catalog.links import LINK_ALLOWLIST
from shared.domain.events import PermanentEventError, parse_cloud_event
from shared.domain.link_policy import link_allowed, link_problems
from shared.domain.simulated_events import simulate_event

ORDERS = LINK_ALLOWLIST["orders"]


class TestLinkAllowed:
    @pytest.mark.parametrize(
        "link",
        [
            "https://tracking.example.com/track?id=1",
            "HTTPS://Tracking.Example.COM/track",
            "https://www.dhl.com/global-en/home/tracking.html?tracking-id=1",
            "https://www.ups.com/track?tracknum=1",
            "https://www.royalmail.com/track-your-item#/tracking-results/1",
            "enterprisepush://orders/SO-1",
        ],
    )
    def test_admits_links_under_a_prefix(self, link):
        assert link_allowed(link, ORDERS)

    @pytest.mark.parametrize(
        "link",
        [
            "https://evil.example/track",
            "https://tracking.example.com.evil.example/track",  # a look-alike host
            "https://tracking.example.com@evil.example/track",  # user info: the host is evil.example
            "https://evil.example/?https://tracking.example.com/",
            "http://tracking.example.com/track",  # another scheme
            "https://tracking.example.com:8443/track",  # another port
            "https://www.ups.com/tracker-phish",  # outside the prefix path /track
            "https://tracking.dpd.de/status/../../phish",  # climbing out of the prefix path
            "https://tracking.dpd.de/status/%2e%2e/phish",
            "https://tracking.example.com\\@evil.example/",
            "https://tracking.example.com/ x",
            "javascript:alert(1)",
            "//tracking.example.com/track",  # no scheme
            "enterprisepush://finance/approvals/1",  # another system's deep link
            "https://tracking.example.com:99999/",
            "",
        ],
    )
    def test_refuses_links_that_lead_elsewhere(self, link):
        assert not link_allowed(link, ORDERS)

    def test_an_empty_allowlist_admits_nothing(self):
        assert not link_allowed("https://tracking.example.com/track", ())

    @given(st.text(max_size=60))
    def test_a_host_after_an_allowed_prefix_text_is_never_admitted_for_another_host(self, tail):
        """Whatever follows, a URL whose host is not an allowed host is refused."""
        assert not link_allowed("https://attacker.example/" + tail, ORDERS)


class TestLinkProblems:
    def test_finds_link_fields_and_addresses_in_text_anywhere_in_data(self):
        data = {
            "orderId": "SO-1",
            "deepLink": "enterprisepush://finance/approvals/1",
            "note": "Track it at https://evil.example/x or https://tracking.example.com/ok",
            "extra": {"imageUrls": ["https://tracking.example.com/a.png", "https://cdn.evil.example/b.png"]},
            "a/b": {"href": "javascript:alert(1)"},
        }
        locations = [problem.location for problem in link_problems(data, ORDERS)]
        assert locations == ["/data/deepLink", "/data/note", "/data/extra/imageUrls/1", "/data/a~1b/href"]

    def test_plain_text_and_allowed_links_are_no_problem(self):
        data = {"team": "Platform: core", "time": "12:30", "trackingUrl": "https://www.dhl.com/x", "deepLink": ""}
        assert link_problems(data, ORDERS) == []


class TestEvents:
    def test_an_event_linking_elsewhere_is_refused_with_the_field_at_fault(self):
        event = example_cloud_event(CATALOG["orders.order.shipped"])
        event["data"]["trackingUrl"] = "https://evil.example/track"
        with pytest.raises(PermanentEventError) as caught:
            parse_cloud_event(json.dumps(event).encode(), "application/cloudevents+json")
        assert caught.value.reason == "link_not_allowed"
        assert [error.location for error in caught.value.errors] == ["/data/trackingUrl"]

    def test_an_unknown_field_is_checked_too(self):
        event = example_cloud_event(CATALOG["hr.employee.joined"])
        event["data"]["deepLink"] = "https://evil.example/login"
        with pytest.raises(PermanentEventError, match="link"):
            parse_cloud_event(json.dumps(event).encode(), None)

    @pytest.mark.parametrize("event_type", list(CATALOG))
    def test_the_catalogs_own_deep_links_and_examples_pass_their_systems_allowlist(self, event_type):
        entry = CATALOG[event_type]
        event = example_cloud_event(entry)
        parsed = parse_cloud_event(json.dumps(event).encode(), None)
        assert link_allowed(entry.link(parsed.data), LINK_ALLOWLIST[entry.topic])

    @pytest.mark.parametrize("seed", range(30))
    def test_every_simulated_shipment_links_to_an_allowed_carrier(self, seed):
        event = simulate_event("orders.order.shipped", random.Random(seed), now=datetime(2026, 11, 22, tzinfo=UTC))
        parse_cloud_event(json.dumps(event).encode(), None)
