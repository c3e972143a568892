"""Dates from mail: strict RFC 5322 Date headers and the looser ones mail clients print.

mail-parser's strict RFC 5322 date reader is the first try for dates in
forwarded blocks; known human-readable shapes come after it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from mailparser.dates import parse_mail_date

from bot.mail.headers import single_line

__all__ = ["parse_date", "parse_loose_date"]


def parse_date(value: str | None) -> datetime | None:
    """An RFC 5322 date as tz-aware UTC, or None when it cannot be read.

    ``-0000`` (and zone-less dates) are taken as UTC: there is nothing better.
    """
    if not value:
        return None
    try:
        when = parsedate_to_datetime(single_line(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


_ZONE_OFFSETS = {
    "UTC": 0, "UT": 0, "GMT": 0, "Z": 0, "WET": 0, "BST": 60, "IST": 60, "WEST": 60,
    "CET": 60, "CEST": 120, "MET": 60, "MEST": 120, "EET": 120, "EEST": 180,
    "MSK": 180, "EST": -300, "EDT": -240, "CST": -360, "CDT": -300, "MST": -420,
    "MDT": -360, "PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480,
    "HST": -600, "AEST": 600, "AEDT": 660, "JST": 540, "KST": 540, "NZST": 720,
    "NZDT": 780,
}  # fmt: skip
_WEEKDAY_RE = re.compile(
    r"\b(?:mon|tue|wed|thu|fri|sat|sun)(?:day|sday|nesday|rsday|urday)?\b\.?,?", re.I
)
_OFFSET_RE = re.compile(r"(?:\b(?:GMT|UTC)\s*)?([+-])(\d{1,2}):?(\d{2})?\s*$", re.I)
_ZONE_RE = re.compile(r"\s([A-Za-z]{1,5})\s*$")
_AT_RE = re.compile(r"\s(?:at|um|à|a las|alle|om)\s", re.I)
_LOOSE_FORMATS = (
    "%b %d %Y %I:%M %p",
    "%b %d %Y %I:%M:%S %p",
    "%B %d %Y %I:%M %p",
    "%B %d %Y %I:%M:%S %p",
    "%d %B %Y %H:%M:%S",
    "%d %B %Y %H:%M",
    "%d %b %Y %H:%M:%S",
    "%d %b %Y %H:%M",
    "%B %d %Y %H:%M:%S",
    "%B %d %Y %H:%M",
    "%b %d %Y %H:%M",
    "%d %B %Y %I:%M %p",
    "%d %b %Y %I:%M %p",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%y %H:%M",
)


def parse_loose_date(value: str | None) -> datetime | None:
    """Best-effort date from a forwarded-message header block, as tz-aware UTC.

    Mail clients print dates for people ("Mon, Nov 2, 2026 at 10:15 AM",
    "2 November 2026 at 10:15:00 CET"); RFC 5322 dates are tried first.  A date
    without any zone is taken as UTC.  None when no known shape matches.
    """
    if not value:
        return None
    # Gmail puts U+202F before "AM"; every Unicode space is a plain space here.
    text = " ".join(value.split())
    # A strict RFC 5322 reading first: the stdlib's lenient one would ignore "PM"
    # or "GMT+01:00" and be wrong by hours.
    strict = parse_mail_date(text).value
    if isinstance(strict, datetime):
        return strict.astimezone(UTC)
    text = _AT_RE.sub(" ", f" {text} ")
    text = _WEEKDAY_RE.sub(" ", text)
    text = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    text = re.sub(r"\b([AP])\.?M\.?\b", lambda m: m.group(1).upper() + "M", text, flags=re.I)
    text = " ".join(text.replace(",", " ").split())
    offset: int | None = None
    match = _OFFSET_RE.search(text)
    if match and ":" in text[: match.start()]:
        minutes = int(match.group(2)) * 60 + int(match.group(3) or 0)
        offset = minutes if match.group(1) == "+" else -minutes
        text = text[: match.start()].strip()
    else:
        zone = _ZONE_RE.search(text)
        if zone and zone.group(1).upper() in _ZONE_OFFSETS:
            offset = _ZONE_OFFSETS[zone.group(1).upper()]
            text = text[: zone.start()].strip()
    for fmt in _LOOSE_FORMATS:
        try:
            naive = datetime.strptime(text, fmt)
        except ValueError:
            continue
        tz = timezone(timedelta(minutes=offset)) if offset is not None else UTC
        return naive.replace(tzinfo=tz).astimezone(UTC)
    return None
