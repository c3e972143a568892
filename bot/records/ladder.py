"""The manual's record types and its Enforcement Ladder, as data.

Record types ("Flagged and Banned Status"): every record is one of five.
Consequences ("Records Maintained"): the spreadsheet's vocabulary, ranked by
the Enforcement Ladder so the identity key can show a person's highest one.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

# The manual's five record types, in its order, with the words people type.
RECORD_TYPES: dict[str, str] = {
    "no-violation": "The working group assessed no violation occurred",
    "unidentified": "A violation occurred; who was responsible cannot be identified",
    "resolved": "A violation occurred and was resolved",
    "flagged": "A violation occurred and the person/record is flagged",
    "banned": "A violation occurred and the person is banned temporarily or permanently",
}
RECORD_TYPE_ALIASES: dict[str, str] = {
    "no violation": "no-violation", "none": "no-violation", "not a violation": "no-violation",
    "unidentified": "unidentified", "unknown": "unidentified",
    "resolved": "resolved", "flagged": "flagged", "flag": "flagged",
    "banned": "banned", "ban": "banned", "suspended": "banned",
}

# The spreadsheet's Consequences vocabulary (manual, "Records Maintained").
CONSEQUENCES = ("Not a violation", "Out of scope", "No action taken", "Warning",
                "First Suspension", "Second Suspension", "Ban", "Other")
# Rank on the Enforcement Ladder: Warning < short suspension < extended < ban.
LADDER_RANK: dict[str, int] = {"Warning": 1, "First Suspension": 2, "Second Suspension": 3,
                               "Ban": 4}
# The ladder's line between a short suspension (readmission request required)
# and an extended one (conditions for return).
SHORT_SUSPENSION_MAX_DAYS = 90
_DURATION_RE = re.compile(r"^(\d{1,4})\s*([dwmy]?)$", re.IGNORECASE)
_UNIT_DAYS = {"": 1, "d": 1, "w": 7, "m": 30, "y": 365}


def record_type(text: str) -> str | None:
    """The record type `text` names ("no violation", "flagged", ...), or None."""
    key = " ".join(text.lower().replace("-", " ").split())
    return RECORD_TYPE_ALIASES.get(key)


def rank(consequence: str | None) -> int:
    """A consequence's rank on the ladder (0 for anything below a Warning)."""
    return LADDER_RANK.get(consequence or "", 0)


def highest(consequences: list[str | None]) -> str | None:
    """The highest-ranked of `consequences` (None when none is on the ladder)."""
    ranked = [c for c in consequences if c and rank(c) > 0]
    return max(ranked, key=rank) if ranked else None


def parse_duration(text: str) -> int | None:
    """Days in "60d", "8w", "3m", "1y" or "60"; None when it is not a duration."""
    match = _DURATION_RE.match(text.strip())
    if match is None:
        return None
    days = int(match.group(1)) * _UNIT_DAYS[match.group(2).lower()]
    return days if days > 0 else None


def suspension_end(start: date, days: int) -> date:
    """The last day of a suspension of `days` days starting on `start`."""
    return start + timedelta(days=days)


def needs_readmission_request(days: int) -> bool:
    """True for a short suspension (the ladder: "readmission request required")."""
    return days <= SHORT_SUSPENSION_MAX_DAYS
