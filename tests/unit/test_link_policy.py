"""Links in event data: only what a system's allowlist admits reaches a phone; tricks that point elsewhere fail."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.catalog import CATALOG, example_cloud_event
from shared.domain.catalog.data_rules import data_schema
from shared.domain.catalog.links import LINK_ALLOWLIST
from shared.domain.catalog.wire_types import HTTPS_URL_PATTERN, python_regex
from shared.domain.events import PermanentEventError, parse_cloud_event
from shared.domain.link_policy import link_allowed, link_pattern
from shared.domain.simulated_events import simulate_event

ORDERS = LINK_ALLOWLIST["orders"]
_TRACKING_URL = data_schema(CATALOG["orders.order.shipped"])["properties"]["trackingUrl"]["pattern"]


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


class TestLinkPattern:
    @settings(deadline=None, max_examples=300)
    @given(st.from_regex(link_pattern(ORDERS), fullmatch=True))
    def test_every_link_the_pattern_admits_is_allowed(self, link):
        assert link_allowed(link, ORDERS)

    @settings(deadline=None, max_examples=300)
    @given(st.from_regex(_TRACKING_URL, fullmatch=True))
    def test_every_tracking_url_the_document_states_is_an_https_url_the_payload_model_accepts(self, link):
        assert python_regex(HTTPS_URL_PATTERN).search(link)
        assert link_allowed(link, ORDERS)

    @pytest.mark.parametrize(
        "link",
        [
            "https://tracking.example.com/track?id=1",
            "https://Tracking.Example.COM/track",
            "https://www.ups.com/track?tracknum=1",
            "https://www.royalmail.com/track-your-item#/tracking-results/1",
            "https://tracking.dpd.de/status/0123?lang=en%2Dgb",
        ],
    )
    def test_real_tracking_links_are_in_it(self, link):
        assert python_regex(_TRACKING_URL).search(link)

    @pytest.mark.parametrize(
        "link",
        [
            "enterprisepush://orders/SO-1",  # an https URL field: the app's own scheme is not one
            "https://tracking.dpd.de/status/%2e%2e/phish",
            "https://tracking.dpd.de/status",
            "https://www.ups.com/tracker-phish",
            "https://www.dhl.com.evil.example/",
        ],
    )
    def test_links_elsewhere_are_not(self, link):
        assert not python_regex(_TRACKING_URL).search(link)

    def test_an_empty_allowlist_has_no_pattern(self):
        assert link_pattern(()) is None


class TestEvents:
    def test_an_event_linking_elsewhere_is_refused_with_the_field_at_fault(self):
        event = example_cloud_event(CATALOG["orders.order.shipped"])
        event["data"]["trackingUrl"] = "https://evil.example/track"
        with pytest.raises(PermanentEventError) as caught:
            parse_cloud_event(json.dumps(event).encode(), "application/cloudevents+json")
        assert caught.value.reason == "link_not_allowed"
        assert [error.location for error in caught.value.errors] == ["/data/trackingUrl"]

    @pytest.mark.parametrize(
        ("event_type", "field", "fields"),
        [
            ("hr.employee.joined", "team", "none: this event type carries no links"),
            ("orders.order.shipped", "carrier", "trackingUrl"),
            ("finance.budget_approval.requested", "purpose", "none: this event type carries no links"),
        ],
    )
    def test_free_text_may_hold_no_address_even_an_allowed_one(self, event_type, field, fields):
        event = example_cloud_event(CATALOG[event_type])
        event["data"][field] = "see https://tracking.example.com/track or ftp://x"
        with pytest.raises(PermanentEventError) as caught:
            parse_cloud_event(json.dumps(event).encode(), None)
        assert caught.value.reason == "link_not_allowed"
        [error] = caught.value.errors
        assert error.location == f"/data/{field}"
        assert error.message.endswith(f"put links in the link fields ({fields})")

    def test_a_field_the_catalog_does_not_name_is_ignored_and_dropped(self):
        event = example_cloud_event(CATALOG["hr.employee.joined"])
        event["data"]["deepLink"] = "https://evil.example/login"
        parsed = parse_cloud_event(json.dumps(event).encode(), None)
        assert "evil.example" not in json.dumps(parsed.data.model_dump(mode="json", by_alias=True))

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
