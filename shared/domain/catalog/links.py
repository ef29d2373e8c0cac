"""Where each LoB system's events may link to: URL prefixes per topic (its source), checked on every event.

Every link in an event's ``data`` (a field named like ``trackingUrl`` or ``deepLink``, and any ``scheme://``
address inside other text) must start with one of its system's prefixes: same scheme, host and port, and a path
under the prefix's path. A system without an entry may not link anywhere. The app's own deep links
(``CatalogEntry.deep_link``) are held to the same list by tests.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LINK_ALLOWLIST"]

# Typed read-only; a plain dict underneath so that a test can add a LoB system in test data only.
LINK_ALLOWLIST: Mapping[str, tuple[str, ...]] = {
    "hr": ("enterprisepush://hr/",),
    "finance": ("enterprisepush://finance/",),
    "accounts": ("enterprisepush://accounts/",),
    "orders": (
        "enterprisepush://orders/",
        # Carriers' tracking pages (trackingUrl of orders.order.shipped).
        "https://tracking.example.com/",
        "https://www.dhl.com/",
        "https://www.ups.com/track",
        "https://tracking.dpd.de/status/",
        "https://www.royalmail.com/track-your-item",
    ),
}
