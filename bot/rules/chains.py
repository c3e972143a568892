"""The registered chains: which decision a rule feeds.

A rule names its chain in `rules/*.toml`; a name not listed here stops
start-up (and `check-config`) with an error naming the file, the rule and the
key, instead of loading a rule that would never run.
"""

from __future__ import annotations

from enum import StrEnum


class Chain(StrEnum):
    """A decision that rules feed, each hit recorded with the rule's description."""

    ACKNOWLEDGE = "acknowledge"  # any hit suppresses the reporter's acknowledgement
    DANGER = "danger"  # a hit marks a report as possibly urgent: members are told at once
    ACTION_TAKEN = "action_taken"  # a local representative says action was already taken
    HYGIENE = "hygiene"  # thread-hygiene checks on mail about a case


def known_chains() -> str:
    """The registered chain names, for error messages."""
    return ", ".join(c.value for c in Chain)
