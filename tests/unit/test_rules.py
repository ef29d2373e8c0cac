"""Recipient rules: the debit threshold and quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from shared.domain.errors import ValidationError
from shared.domain.records import QuietHours
from shared.domain.rules import (
    DEFAULT_DEBIT_THRESHOLD,
    debit_reaches_owner,
    delivery_template,
    in_quiet_hours,
    validate_quiet_hours,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def _at(hour: int, minute: int = 0, zone: ZoneInfo = BERLIN, day: int = 15, month: int = 1) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=zone)


class TestDebitThreshold:
    @pytest.mark.parametrize(
        ("amount", "threshold", "expected"),
        [
            ("99.99", None, False),
            ("100", None, True),
            ("100.00", None, True),
            ("250", "250", True),
            ("249.99", "250", False),
            ("0.01", "0", True),
            ("5000", "5000.01", False),
        ],
    )
    def test_reaches_owner_only_at_or_above_the_threshold(self, amount, threshold, expected):
        limit = None if threshold is None else Decimal(threshold)
        assert debit_reaches_owner(Decimal(amount), limit) is expected

    def test_default_threshold_is_100(self):
        assert Decimal(100) == DEFAULT_DEBIT_THRESHOLD


class TestQuietHours:
    NIGHT = QuietHours(start=time(22, 0), end=time(7, 0), time_zone="Europe/Berlin")
    LUNCH = QuietHours(start=time(12, 0), end=time(13, 30), time_zone="Europe/Berlin")

    @pytest.mark.parametrize(
        ("now", "expected"),
        [
            (_at(21, 59), False),
            (_at(22, 0), True),  # start inclusive
            (_at(23, 59), True),
            (_at(0, 0), True),
            (_at(6, 59), True),
            (_at(7, 0), False),  # end exclusive
            (_at(12, 0), False),
        ],
    )
    def test_window_spanning_midnight(self, now, expected):
        assert in_quiet_hours(self.NIGHT, now) is expected

    @pytest.mark.parametrize(
        ("now", "expected"),
        [(_at(11, 59), False), (_at(12, 0), True), (_at(13, 29), True), (_at(13, 30), False), (_at(23, 0), False)],
    )
    def test_window_within_one_day(self, now, expected):
        assert in_quiet_hours(self.LUNCH, now) is expected

    def test_is_read_on_the_recipients_clock_not_the_servers(self):
        # 21:30 UTC in January is 22:30 in Berlin (quiet) and 16:30 in New York (not quiet).
        now = datetime(2025, 1, 15, 21, 30, tzinfo=UTC)
        assert in_quiet_hours(self.NIGHT, now)
        assert not in_quiet_hours(QuietHours(time(22, 0), time(7, 0), "America/New_York"), now)
        assert in_quiet_hours(QuietHours(time(16, 0), time(17, 0), "America/New_York"), now)

    def test_follows_daylight_saving_time(self):
        # 21:30 UTC is 22:30 in Berlin in winter (CET) but 23:30 in summer (CEST): same answer, other reason.
        summer_evening = datetime(2025, 7, 15, 20, 30, tzinfo=UTC)  # 22:30 CEST
        assert in_quiet_hours(self.NIGHT, summer_evening)
        winter_evening = datetime(2025, 1, 15, 20, 30, tzinfo=UTC)  # 21:30 CET
        assert not in_quiet_hours(self.NIGHT, winter_evening)

    def test_around_the_spring_forward_gap(self):
        # Berlin jumps from 02:00 to 03:00 on 2025-03-30: 00:59 UTC is 01:59 CET, 01:00 UTC is 03:00 CEST.
        window = QuietHours(time(2, 0), time(3, 0), "Europe/Berlin")
        assert not in_quiet_hours(window, datetime(2025, 3, 30, 0, 59, tzinfo=UTC))
        assert not in_quiet_hours(window, datetime(2025, 3, 30, 1, 0, tzinfo=UTC))
        assert in_quiet_hours(self.NIGHT, datetime(2025, 3, 30, 4, 59, tzinfo=UTC))  # 06:59 CEST
        assert not in_quiet_hours(self.NIGHT, datetime(2025, 3, 30, 5, 0, tzinfo=UTC))  # 07:00 CEST

    def test_around_the_fall_back_overlap(self):
        # 2025-11-02 in New York: 01:30 happens twice (05:30 and 06:30 UTC); both are inside 01:00-02:00.
        window = QuietHours(time(1, 0), time(2, 0), "America/New_York")
        assert in_quiet_hours(window, datetime(2025, 11, 2, 5, 30, tzinfo=UTC))
        assert in_quiet_hours(window, datetime(2025, 11, 2, 6, 30, tzinfo=UTC))
        assert not in_quiet_hours(window, datetime(2025, 11, 2, 7, 0, tzinfo=UTC))  # 02:00 EST

    def test_in_a_zone_east_of_the_date_line(self):
        window = QuietHours(time(23, 0), time(6, 0), "Pacific/Kiritimati")  # UTC+14
        assert in_quiet_hours(window, datetime(2025, 1, 15, 10, 0, tzinfo=UTC))  # 00:00 next day locally
        assert not in_quiet_hours(window, datetime(2025, 1, 15, 16, 0, tzinfo=UTC))  # 06:00 locally

    def test_equal_start_and_end_means_no_quiet_hours(self):
        always_off = QuietHours(time(8, 0), time(8, 0), "Europe/Berlin")
        assert not in_quiet_hours(always_off, _at(8, 0))
        assert not in_quiet_hours(None, _at(23, 0))

    def test_an_unknown_zone_is_read_as_utc(self):
        window = QuietHours(time(22, 0), time(7, 0), "Mars/Olympus_Mons")
        assert in_quiet_hours(window, datetime(2025, 1, 15, 23, 0, tzinfo=UTC))
        assert not in_quiet_hours(window, datetime(2025, 1, 15, 21, 59, tzinfo=UTC))

    def test_naive_now_is_refused(self):
        with pytest.raises(ValueError, match="timezone-aware"):
            in_quiet_hours(self.NIGHT, datetime(2025, 1, 15, 23, 0))


class TestValidateQuietHours:
    def test_accepts_iana_zones(self):
        validate_quiet_hours(QuietHours(time(22, 0), time(7, 0), "America/New_York"))

    @pytest.mark.parametrize("zone", ["Mars/Base", "", "../etc/passwd", "CEST"])
    def test_rejects_unknown_zones(self, zone):
        with pytest.raises(ValidationError):
            validate_quiet_hours(QuietHours(time(22, 0), time(7, 0), zone))


class TestDeliveryTemplate:
    NIGHT = QuietHours(time(22, 0), time(7, 0), "Europe/Berlin")

    def test_alert_to_a_user_in_quiet_hours_becomes_silent(self):
        assert delivery_template("alert", self.NIGHT, _at(23, 0), addressed_to_user=True) == "silent"

    def test_alert_outside_quiet_hours_stays_an_alert(self):
        assert delivery_template("alert", self.NIGHT, _at(9, 0), addressed_to_user=True) == "alert"

    def test_topic_broadcasts_ignore_quiet_hours(self):
        assert delivery_template("alert", self.NIGHT, _at(23, 0), addressed_to_user=False) == "alert"

    def test_silent_stays_silent(self):
        assert delivery_template("silent", None, _at(9, 0), addressed_to_user=True) == "silent"
