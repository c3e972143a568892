"""Working time in a time zone (bot.core.clock): weekends, hours, midnight windows, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.core.clock import (
    at_local,
    digest_due,
    format_day,
    format_moment,
    in_hours,
    is_working_time,
    local_day,
    next_working_time,
)

UTCZ = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
AUCKLAND = ZoneInfo("Pacific/Auckland")
HOURS = (time(9), time(18))
WEEKDAYS = [0, 1, 2, 3, 4]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(("when", "expected"), [
    (utc(2026, 11, 2, 10, 0), True),  # Monday 10:00
    (utc(2026, 11, 2, 9, 0), True),  # start is inclusive
    (utc(2026, 11, 2, 8, 59), False),
    (utc(2026, 11, 2, 18, 0), False),  # end is exclusive
    (utc(2026, 11, 2, 17, 59), True),
    (utc(2026, 11, 6, 12, 0), True),  # Friday
    (utc(2026, 11, 7, 12, 0), False),  # Saturday
    (utc(2026, 11, 8, 12, 0), False),  # Sunday
])
def test_working_time_in_utc(when: datetime, expected: bool) -> None:
    assert is_working_time(when, UTCZ, HOURS, WEEKDAYS) is expected


def test_working_time_uses_the_local_clock() -> None:
    # 08:30 UTC on Monday 2 November is 09:30 in Berlin (CET, UTC+1): working time there.
    when = utc(2026, 11, 2, 8, 30)
    assert not is_working_time(when, UTCZ, HOURS, WEEKDAYS)
    assert is_working_time(when, BERLIN, HOURS, WEEKDAYS)
    # 17:30 UTC is 18:30 in Berlin: after hours there, still working time in UTC.
    late = utc(2026, 11, 2, 17, 30)
    assert is_working_time(late, UTCZ, HOURS, WEEKDAYS)
    assert not is_working_time(late, BERLIN, HOURS, WEEKDAYS)


def test_weekday_is_the_local_weekday() -> None:
    # Sunday 22:00 UTC is already Monday 11:00 in Auckland (NZDT, UTC+13).
    sunday_evening = utc(2026, 11, 8, 22, 0)
    assert not is_working_time(sunday_evening, UTCZ, HOURS, WEEKDAYS)
    assert is_working_time(sunday_evening, AUCKLAND, HOURS, WEEKDAYS)
    assert local_day(sunday_evening, AUCKLAND) == date(2026, 11, 9)


def test_daylight_saving_shifts_with_the_local_clock() -> None:
    # Berlin: 09:00 local is 07:00 UTC in summer (CEST) and 08:00 UTC in winter (CET).
    summer = utc(2026, 7, 6, 7, 30)  # Monday
    winter = utc(2026, 11, 2, 7, 30)  # Monday
    assert is_working_time(summer, BERLIN, HOURS, WEEKDAYS)
    assert not is_working_time(winter, BERLIN, HOURS, WEEKDAYS)
    # Across the October change (Sunday 25 Oct 2026), Monday starts at 08:00 UTC.
    assert next_working_time(utc(2026, 10, 24, 12, 0), BERLIN, HOURS, WEEKDAYS) == \
        utc(2026, 10, 26, 8, 0)


def test_custom_days_and_window_across_midnight() -> None:
    night = (time(22), time(6))
    assert in_hours(time(23), night) and in_hours(time(5, 59), night)
    assert not in_hours(time(6), night) and not in_hours(time(12), night)
    assert in_hours(time(3), (time(0), time(0)))  # equal bounds: all day
    # A group that works Sundays only.
    assert is_working_time(utc(2026, 11, 8, 12, 0), UTCZ, HOURS, [6])
    assert not is_working_time(utc(2026, 11, 9, 12, 0), UTCZ, HOURS, [6])


def test_next_working_time() -> None:
    # Saturday noon -> Monday 09:00; Monday 08:00 -> Monday 09:00; in hours -> itself.
    assert next_working_time(utc(2026, 11, 7, 12), UTCZ, HOURS, WEEKDAYS) == utc(2026, 11, 9, 9)
    assert next_working_time(utc(2026, 11, 2, 8), UTCZ, HOURS, WEEKDAYS) == utc(2026, 11, 2, 9)
    assert next_working_time(utc(2026, 11, 2, 10), UTCZ, HOURS, WEEKDAYS) == \
        utc(2026, 11, 2, 10)
    # Friday after hours -> Monday.
    assert next_working_time(utc(2026, 11, 6, 19), UTCZ, HOURS, WEEKDAYS) == utc(2026, 11, 9, 9)
    assert next_working_time(utc(2026, 11, 6, 19), UTCZ, HOURS, []) is None


def test_digest_due_after_digest_time_local() -> None:
    eight = time(8, 0)
    assert digest_due(utc(2026, 11, 2, 7, 59), UTCZ, eight) is None
    assert digest_due(utc(2026, 11, 2, 8, 0), UTCZ, eight) == date(2026, 11, 2)
    assert digest_due(utc(2026, 11, 2, 23, 0), UTCZ, eight) == date(2026, 11, 2)
    # 07:30 UTC is 08:30 in Berlin in winter: due there, for the Berlin day.
    assert digest_due(utc(2026, 11, 2, 7, 30), BERLIN, eight) == date(2026, 11, 2)
    # 23:30 UTC Sunday is Monday 00:30 in Berlin: Monday's digest is not yet due.
    assert digest_due(utc(2026, 11, 8, 23, 30), BERLIN, eight) is None


def test_formatting_and_local_moments() -> None:
    assert format_moment(utc(2026, 11, 2, 10, 0), UTCZ) == "Mon 2026-11-02 10:00 UTC"
    assert format_moment(utc(2026, 11, 2, 10, 0), BERLIN) == "Mon 2026-11-02 11:00 CET"
    assert format_day(date(2026, 11, 2), UTCZ) == "Mon 2026-11-02"
    assert at_local(date(2026, 11, 2), time(9), BERLIN) == utc(2026, 11, 2, 8, 0)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        is_working_time(datetime(2026, 11, 2, 10), UTCZ, HOURS, WEEKDAYS)
