"""Working time in the group's time zone: pure functions, no database, no `now()`.

Reminders go out only on working days within working hours in
`schedule.timezone` (unless the case is urgent); the digest goes out once a
day after `schedule.digest_time`.  Every moment passed in is an aware
datetime (any zone); the answers are computed in the configured zone, so
daylight-saving changes shift working hours with the local clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local(when: datetime, zone: ZoneInfo) -> datetime:
    """`when` (aware) as local time in `zone`."""
    if when.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one")
    return when.astimezone(zone)


def local_day(when: datetime, zone: ZoneInfo) -> date:
    """The calendar day `when` falls on in `zone`."""
    return local(when, zone).date()


def in_hours(t: time, hours: tuple[time, time]) -> bool:
    """True when wall-clock `t` is within `hours` (start inclusive, end exclusive).

    A window whose end is before its start crosses midnight ("22:00-06:00").
    Equal start and end mean all day.
    """
    start, end = hours
    if start == end:
        return True
    if start < end:
        return start <= t < end
    return t >= start or t < end


def is_working_time(
    when: datetime, zone: ZoneInfo, hours: tuple[time, time], days: Iterable[int]
) -> bool:
    """True when `when` is on a working day (0 = Monday) within working hours in `zone`."""
    moment = local(when, zone)
    return moment.weekday() in set(days) and in_hours(moment.time().replace(tzinfo=None), hours)


def next_working_time(
    when: datetime,
    zone: ZoneInfo,
    hours: tuple[time, time],
    days: Iterable[int],
    *,
    limit_days: int = 8,
) -> datetime | None:
    """The first moment at or after `when` that is working time (UTC), or None if never.

    Used to tell people when a deferred reminder will go out; it scans local
    days forward (at most `limit_days`), so a configuration without any working
    day answers None instead of looping.
    """
    day_set = set(days)
    if is_working_time(when, zone, hours, day_set):
        return when.astimezone(UTC)
    start = hours[0]
    base = local(when, zone)
    for offset in range(limit_days + 1):
        day = base.date() + timedelta(days=offset)
        candidate = datetime.combine(day, start, tzinfo=zone)
        # A start time skipped by a DST jump normalises forward via UTC.
        candidate = candidate.astimezone(UTC).astimezone(zone)
        if candidate >= base and is_working_time(candidate, zone, hours, day_set):
            return candidate.astimezone(UTC)
    return None


def at_local(day: date, t: time, zone: ZoneInfo) -> datetime:
    """The UTC moment of wall-clock `t` on `day` in `zone`."""
    return datetime.combine(day, t, tzinfo=zone).astimezone(UTC)


def digest_due(now: datetime, zone: ZoneInfo, digest_time: time) -> date | None:
    """The local day whose digest is due at `now` (digest time passed), else None."""
    moment = local(now, zone)
    if moment.time().replace(tzinfo=None) >= digest_time:
        return moment.date()
    return None


def format_day(when: datetime | date, zone: ZoneInfo) -> str:
    """A day as people read it: "Mon 2026-11-02"."""
    day = local_day(when, zone) if isinstance(when, datetime) else when
    return day.strftime("%a %Y-%m-%d")


def format_moment(when: datetime, zone: ZoneInfo) -> str:
    """A moment in the group's zone: "Mon 2026-11-02 10:00 UTC"."""
    moment = local(when, zone)
    return f"{moment.strftime('%a %Y-%m-%d %H:%M')} {moment.tzname() or ''}".rstrip()
