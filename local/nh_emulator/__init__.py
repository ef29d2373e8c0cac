"""A local Notification Hubs emulator: the NH REST subset the app uses, with inboxes, a phone page and faults."""

from __future__ import annotations

from local.nh_emulator.app import create_app
from local.nh_emulator.config import EmulatorConfig, Tier

__all__ = ["EmulatorConfig", "Tier", "create_app"]
