"""The quorum policy: when is a proposal agreed?  A pure function over a ballot.

The rules are data (`rules/decisions.toml`, quoted there from the manual):

- consensus: at least `consensus_min_agree` members other than the proposer
  agree and nobody objects;
- no consensus (an objection): at least `no_consensus_share` (two-thirds) of the
  members without a conflict of interest are in favour;
- severe (a suspension or ban, or Safety Risk "Yes"): besides the above, more
  than `severe_share_over` (half) of the members without a conflict are in favour;
- none of that within `schedule.decision_days`: the chairs turn it over to the board.

The proposer counts as in favour; abstentions count for nothing but stay in the
denominator (the manual counts "members", not votes).  Votes of members who are
shut out of the case are not counted at all.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

from bot.core.config import Config, ConfigError
from bot.core.resources import shipped_dir

AGREE, OBJECT, ABSTAIN = "agree", "object", "abstain"
VOTES = (AGREE, OBJECT, ABSTAIN)

OPEN, AGREED, BOARD = "open", "agreed", "board"
FILE_NAME = "decisions.toml"


@dataclass(frozen=True)
class QuorumRules:
    """The policy data of `rules/decisions.toml`."""

    consensus_min_agree: int = 2
    no_consensus_share: Fraction = Fraction(2, 3)
    severe_share_over: Fraction = Fraction(1, 2)
    severe_consequences: frozenset[str] = frozenset({"First Suspension", "Second Suspension",
                                                     "Ban"})
    severe_when_safety_risk: bool = True
    needs_agreement: frozenset[str] = frozenset({"First Suspension", "Second Suspension",
                                                 "Ban", "Other"})
    propose_roles: frozenset[str] = frozenset({"chair"})

    def is_severe(self, consequence: str | None, safety_risk: str | None) -> bool:
        """True when a proposal needs the severe majority."""
        if consequence in self.severe_consequences:
            return True
        return self.severe_when_safety_risk and (safety_risk or "").strip().lower() == "yes"


@dataclass(frozen=True)
class Ballot:
    """One proposal's votes, as the policy sees them."""

    proposer: str
    eligible: frozenset[str]  # members without a conflict of interest (main addresses)
    votes: Mapping[str, str]  # member -> agree | object | abstain (their latest)
    severe: bool
    opened_at: datetime


@dataclass(frozen=True)
class Verdict:
    """What the policy says about a ballot now."""

    outcome: str  # open | agreed | board
    rule: str  # which branch decided (or would decide) it
    in_favour: int
    against: int
    abstained: int
    eligible: int
    needed: int  # in-favour count the deciding branch asks for
    pending: tuple[str, ...] = field(default_factory=tuple)  # eligible members yet to vote

    @property
    def summary(self) -> str:
        """One line for transcripts and the digest (counts only)."""
        return (f"{self.in_favour} in favour (proposer included), {self.against} against, "
                f"{self.abstained} abstained, {len(self.pending)} not voted, of "
                f"{self.eligible} members without a conflict; {self.rule} needs "
                f"{self.needed} in favour")


def _share(n: int, share: Fraction) -> int:
    """The smallest count that is at least `share` of `n`."""
    return math.ceil(n * share)


def _over(n: int, share: Fraction) -> int:
    """The smallest count that is more than `share` of `n`."""
    return math.floor(n * share) + 1


def decide(ballot: Ballot, rules: QuorumRules, now: datetime, decision_days: float) -> Verdict:
    """The verdict on `ballot` at `now` (module docstring)."""
    eligible = ballot.eligible
    votes = {m: v for m, v in ballot.votes.items() if m in eligible and m != ballot.proposer}
    agree_others = sum(1 for v in votes.values() if v == AGREE)
    against = sum(1 for v in votes.values() if v == OBJECT)
    abstained = sum(1 for v in votes.values() if v == ABSTAIN)
    in_favour = agree_others + (1 if ballot.proposer in eligible else 0)
    pending = tuple(sorted(m for m in eligible if m != ballot.proposer and m not in votes))
    n = len(eligible)
    if against == 0:
        rule, needed = "consensus", rules.consensus_min_agree + 1
        ok = agree_others >= rules.consensus_min_agree
    else:
        rule, needed = "two-thirds", max(_share(n, rules.no_consensus_share), 1)
        ok = in_favour >= needed
    if ballot.severe:
        majority = _over(n, rules.severe_share_over)
        rule, needed = f"{rule} and a majority", max(needed, majority)
        ok = ok and in_favour >= majority
    if ok:
        outcome = AGREED
    elif now >= ballot.opened_at + timedelta(days=decision_days):
        outcome, rule = BOARD, f"{rule} (not reached in {decision_days:g} days)"
    else:
        outcome = OPEN
    return Verdict(outcome=outcome, rule=rule, in_favour=in_favour, against=against,
                   abstained=abstained, eligible=n, needed=needed, pending=pending)


def _fraction(value: object, key: str) -> Fraction:
    if (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)
            and value[1] > 0 and 0 < value[0] <= value[1]):
        return Fraction(value[0], value[1])
    raise ConfigError(f"rules/{FILE_NAME}: decisions.{key}: must be [numerator, denominator]")


def _strings(value: object, key: str) -> frozenset[str]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    raise ConfigError(f"rules/{FILE_NAME}: decisions.{key}: must be a list of strings")


def parse_rules(data: Mapping[str, object]) -> QuorumRules:
    """Validate the `[decisions]` table; errors name the key."""
    table = data.get("decisions")
    if not isinstance(table, dict):
        raise ConfigError(f"rules/{FILE_NAME}: missing [decisions] table")
    known = set(QuorumRules.__dataclass_fields__)
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"rules/{FILE_NAME}: decisions.{unknown[0]}: unknown key")
    base = QuorumRules()
    min_agree = table.get("consensus_min_agree", base.consensus_min_agree)
    if not isinstance(min_agree, int) or min_agree < 1:
        raise ConfigError(f"rules/{FILE_NAME}: decisions.consensus_min_agree: must be >= 1")
    safety = table.get("severe_when_safety_risk", True)
    if not isinstance(safety, bool):
        raise ConfigError(f"rules/{FILE_NAME}: decisions.severe_when_safety_risk: true|false")
    return QuorumRules(
        consensus_min_agree=min_agree,
        no_consensus_share=_fraction(table.get("no_consensus_share", [2, 3]),
                                     "no_consensus_share"),
        severe_share_over=_fraction(table.get("severe_share_over", [1, 2]),
                                    "severe_share_over"),
        severe_consequences=_strings(table.get("severe_consequences",
                                               sorted(base.severe_consequences)),
                                     "severe_consequences"),
        severe_when_safety_risk=safety,
        needs_agreement=_strings(table.get("needs_agreement", sorted(base.needs_agreement)),
                                 "needs_agreement"),
        propose_roles=_strings(table.get("propose_roles", ["chair"]), "propose_roles"),
    )


@lru_cache(maxsize=8)
def _load(path: str) -> QuorumRules:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"rules/{FILE_NAME}: not valid TOML: {exc}") from None
    return parse_rules(data)


def load_quorum_rules(config: Config) -> QuorumRules:
    """The decision rules: the configured rules folder's file, else the shipped one."""
    if config.rules_dir:
        own = config.resolve_path(config.rules_dir) / FILE_NAME
        if own.is_file():
            return _load(str(own))
    return _load(str(shipped_dir("rules") / FILE_NAME))
