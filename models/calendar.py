"""Business days on the `holidays` package: weekends and public holidays of a country.

Pure and deterministic for a given `holidays` release. Workflows never call this directly:
they ask the `business_deadline` local activity, so the deadline is recorded in history and
replays identically after a library upgrade changes the holiday data.

Days are the UTC calendar dates of timezone-aware datetimes; naive datetimes are refused.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=512)
def _year(
    country: str, subdivision: str | None, year: int
) -> tuple[frozenset[date], frozenset[int]]:
    """(public holidays, weekend weekdays) of one year; a fresh object, so no shared state."""
    try:
        cal = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError as exc:
        raise ValueError(f"no holiday calendar for {country!r}/{subdivision!r}: {exc}") from exc
    return frozenset(cal.keys()), frozenset(getattr(cal, "weekend", None) or {5, 6})


def _norm(country: str, subdivision: str | None) -> tuple[str, str | None]:
    country = country.strip().upper()
    if subdivision:
        subdivision = subdivision.strip().upper()
        prefix = f"{country}-"
        subdivision = subdivision.removeprefix(prefix) or None
    return country, subdivision or None


def _utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _day(value: date | datetime) -> date:
    return _utc(value, "day").date() if isinstance(value, datetime) else value


def is_business_day(
    d: date | datetime, country: str = "US", subdivision: str | None = None
) -> bool:
    """True when `d` (a date, or the UTC date of an aware datetime) is neither a weekend day
    nor a public holiday of `country` (ISO 3166-1 alpha-2) and optional `subdivision`."""
    day = _day(d)
    holiday_days, weekend = _year(*_norm(country, subdivision), day.year)
    return day.weekday() not in weekend and day not in holiday_days


def add_business_days(
    start: datetime, days: int, country: str = "US", subdivision: str | None = None
) -> datetime:
    """The same UTC time of day `days` business days after `start`.

    A start on a weekend or holiday counts from the next business day's 00:00 UTC (so one
    business day from Saturday 10:00 is Tuesday 00:00, the end of Monday). `days` may be 0
    (the normalised start) or negative (that many business days back from the normalised
    start). Raises ValueError for a naive `start` or an unknown country.
    """
    current = _utc(start, "start")
    if not is_business_day(current, country, subdivision):
        day = current.date() + timedelta(days=1)
        while not is_business_day(day, country, subdivision):
            day += timedelta(days=1)
        current = datetime(day.year, day.month, day.day, tzinfo=UTC)
    step = 1 if days >= 0 else -1
    remaining = abs(days)
    while remaining:
        current += timedelta(days=step)
        if is_business_day(current, country, subdivision):
            remaining -= 1
    return current


def business_days_between(
    a: date | datetime, b: date | datetime, country: str = "US", subdivision: str | None = None
) -> int:
    """Business days among the dates from `a` (included) to `b` (excluded); negative when
    `b` is before `a`. `business_days_between(s, add_business_days(s, n)) == n` for a start
    `s` on a business day."""
    first, last = _day(a), _day(b)
    sign = 1
    if last < first:
        first, last, sign = last, first, -1
    count = 0
    day = first
    while day < last:
        count += is_business_day(day, country, subdivision)
        day += timedelta(days=1)
    return sign * count
