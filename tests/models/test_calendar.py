"""Business-day calendar: weekends, public holidays per country, aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from activities.calendar import business_deadline
from models.calendar import add_business_days, business_days_between, is_business_day
from models.contracts import DeadlineRequest


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_one_business_day_from_friday_afternoon_is_monday_same_time() -> None:
    assert add_business_days(utc(2026, 11, 13, 15, 30), 1) == utc(2026, 11, 16, 15, 30)


def test_weekdays_and_weekends() -> None:
    assert is_business_day(date(2026, 11, 16))  # Monday
    assert not is_business_day(date(2026, 11, 14))  # Saturday
    assert not is_business_day(date(2026, 11, 15))  # Sunday
    assert add_business_days(utc(2026, 11, 16, 9), 5) == utc(2026, 11, 23, 9)


def test_start_on_weekend_counts_from_next_business_day_start() -> None:
    saturday = utc(2026, 11, 14, 10)
    assert add_business_days(saturday, 0) == utc(2026, 11, 16)
    assert add_business_days(saturday, 1) == utc(2026, 11, 17)


def test_us_thanksgiving_and_christmas() -> None:
    assert not is_business_day(date(2026, 11, 26))  # Thanksgiving
    assert not is_business_day(date(2026, 12, 25))  # Christmas (Friday)
    assert add_business_days(utc(2026, 11, 25, 12), 1) == utc(2026, 11, 27, 12)
    # Thursday 24 Dec + 1: Friday 25 is Christmas, then the weekend -> Monday 28.
    assert add_business_days(utc(2026, 12, 24, 8), 1) == utc(2026, 12, 28, 8)
    # Start on the holiday itself: counts from Friday 27 Nov 00:00.
    assert add_business_days(utc(2026, 11, 26, 17), 1) == utc(2026, 11, 30)


def test_observed_holiday() -> None:
    assert not is_business_day(date(2026, 7, 3))  # Independence Day observed (4th = Saturday)


def test_country_with_different_holidays() -> None:
    assert is_business_day(date(2026, 11, 26), "DE")  # no Thanksgiving in Germany
    assert not is_business_day(date(2026, 10, 3), "DE")  # German Unity Day (Saturday anyway)
    assert not is_business_day(date(2026, 4, 6), "DE")  # Easter Monday
    assert is_business_day(date(2026, 4, 6), "US")
    assert not is_business_day(date(2026, 12, 28), "GB")  # Boxing Day substitute
    assert add_business_days(utc(2026, 4, 2, 9), 1, "DE") == utc(2026, 4, 7, 9)
    assert add_business_days(utc(2026, 4, 2, 9), 1, "US") == utc(2026, 4, 3, 9)


def test_subdivision_holidays() -> None:
    assert is_business_day(date(2026, 1, 6), "DE")
    assert not is_business_day(date(2026, 1, 6), "DE", "BY")  # Epiphany in Bavaria
    assert not is_business_day(date(2026, 1, 6), "de", "DE-BY")


def test_country_weekend() -> None:
    assert not is_business_day(date(2026, 11, 13), "IL")  # Friday
    assert is_business_day(date(2026, 11, 15), "IL")  # Sunday


def test_naive_datetime_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_days(datetime(2026, 11, 13, 15), 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_business_day(datetime(2026, 11, 13, 15))


def test_unknown_country_rejected() -> None:
    with pytest.raises(ValueError, match="no holiday calendar"):
        add_business_days(utc(2026, 11, 13), 1, "XX")


def test_other_timezone_in_utc_out() -> None:
    cet = timezone(timedelta(hours=1))
    # Saturday 00:30 in CET is Friday 23:30 UTC: a business day in UTC.
    result = add_business_days(datetime(2026, 11, 14, 0, 30, tzinfo=cet), 1)
    assert result == utc(2026, 11, 16, 23, 30)
    assert result.tzinfo == UTC


def test_negative_days_go_back() -> None:
    assert add_business_days(utc(2026, 11, 30, 15), -1) == utc(2026, 11, 27, 15)
    assert add_business_days(utc(2026, 11, 30, 15), -2) == utc(2026, 11, 25, 15)


def test_business_days_between() -> None:
    assert business_days_between(date(2026, 11, 23), date(2026, 11, 30)) == 4  # Thanksgiving
    assert business_days_between(date(2026, 11, 23), date(2026, 11, 30), "DE") == 5
    assert business_days_between(date(2026, 11, 30), date(2026, 11, 23)) == -4
    assert business_days_between(utc(2026, 11, 13, 15), utc(2026, 11, 13, 18)) == 0


@pytest.mark.parametrize("days", [0, 1, 2, 5, 10, 30, 250])
def test_between_inverts_add(days: int) -> None:
    start = utc(2026, 11, 20, 14)
    assert business_days_between(start, add_business_days(start, days)) == days


def test_deterministic() -> None:
    start = utc(2026, 12, 23, 11, 5)
    assert {add_business_days(start, 3) for _ in range(5)} == {utc(2026, 12, 29, 11, 5)}


def test_business_deadline_activity() -> None:
    req = DeadlineRequest(start=utc(2026, 11, 25, 16), business_days=1, country="US")
    assert business_deadline(req) == utc(2026, 11, 27, 16)


def test_business_deadline_activity_rejects_naive_permanently() -> None:
    from temporalio.exceptions import ApplicationError

    req = DeadlineRequest(start=datetime(2026, 11, 25, 16), business_days=1)
    with pytest.raises(ApplicationError) as info:
        business_deadline(req)
    assert info.value.non_retryable
