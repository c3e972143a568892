"""The quorum policy (bot.governance.quorum.decide) on every branch, and its data file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.config import ConfigError
from bot.core.resources import shipped_dir
from bot.governance.quorum import (
    ABSTAIN,
    AGREE,
    AGREED,
    BOARD,
    OBJECT,
    OPEN,
    Ballot,
    QuorumRules,
    _load,
    decide,
    parse_rules,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RULES = _load(str(shipped_dir("rules") / "decisions.toml"))
SIX = frozenset({"chair", "a", "b", "c", "d", "e"})


def verdict(votes: dict[str, str], *, eligible: frozenset[str] = SIX, severe: bool = False,
            days: float = 1) -> tuple[str, str]:
    ballot = Ballot(proposer="chair", eligible=eligible, votes=votes, severe=severe,
                    opened_at=T0)
    v = decide(ballot, RULES, T0 + timedelta(days=days), 14)
    return v.outcome, v.rule


def test_shipped_rules_are_the_manuals() -> None:
    assert QuorumRules() == RULES


def test_consensus_two_others_agree_nobody_objects() -> None:
    assert verdict({"a": AGREE}) == (OPEN, "consensus")
    assert verdict({"a": AGREE, "b": AGREE}) == (AGREED, "consensus")
    assert verdict({"a": AGREE, "b": AGREE, "c": ABSTAIN}) == (AGREED, "consensus")


def test_proposer_cannot_agree_with_themselves() -> None:
    assert verdict({"chair": AGREE, "a": AGREE}) == (OPEN, "consensus")


def test_objection_needs_two_thirds_of_members_without_conflict() -> None:
    # 6 members: two-thirds is 4 in favour (proposer included).
    assert verdict({"a": AGREE, "b": AGREE, "c": OBJECT})[0] == OPEN
    assert verdict({"a": AGREE, "b": AGREE, "c": AGREE, "d": OBJECT}) == (AGREED, "two-thirds")


def test_abstentions_stay_in_the_denominator() -> None:
    assert verdict({"a": AGREE, "b": AGREE, "c": ABSTAIN, "d": ABSTAIN, "e": OBJECT})[0] == OPEN


def test_severe_needs_a_majority_too() -> None:
    # Consensus alone (3 of 6) is not a majority of 6.
    assert verdict({"a": AGREE, "b": AGREE}, severe=True) == (OPEN, "consensus and a majority")
    assert verdict({"a": AGREE, "b": AGREE, "c": AGREE}, severe=True)[0] == AGREED
    three = frozenset({"chair", "a", "b"})
    assert verdict({"a": AGREE, "b": AGREE}, eligible=three, severe=True)[0] == AGREED


def test_conflicted_members_are_not_counted() -> None:
    # "e" is shut out of the case: their objection and their seat do not count.
    five = SIX - {"e"}
    assert verdict({"a": AGREE, "b": AGREE, "e": OBJECT}, eligible=five) == (AGREED, "consensus")
    # Objection with 5 members: two-thirds is 4.
    assert verdict({"a": AGREE, "b": AGREE, "c": AGREE, "d": OBJECT}, eligible=five)[0] == AGREED
    assert verdict({"a": AGREE, "b": AGREE, "d": OBJECT}, eligible=five)[0] == OPEN


def test_timeout_turns_it_to_the_board() -> None:
    assert verdict({"a": AGREE}, days=13.9)[0] == OPEN
    outcome, rule = verdict({"a": AGREE}, days=14)
    assert outcome == BOARD and "not reached in 14 days" in rule
    # An agreed proposal is agreed, however late.
    assert verdict({"a": AGREE, "b": AGREE}, days=30)[0] == AGREED


def test_too_few_members_never_reach_consensus() -> None:
    two = frozenset({"chair", "a"})
    assert verdict({"a": AGREE}, eligible=two)[0] == OPEN
    assert verdict({"a": AGREE}, eligible=two, days=15)[0] == BOARD


def test_pending_lists_who_has_not_voted() -> None:
    ballot = Ballot(proposer="chair", eligible=SIX, votes={"a": AGREE, "b": OBJECT},
                    severe=False, opened_at=T0)
    v = decide(ballot, RULES, T0, 14)
    assert v.pending == ("c", "d", "e") and v.in_favour == 2 and v.against == 1


def test_severity_from_consequence_or_safety_risk() -> None:
    assert RULES.is_severe("Ban", None) and RULES.is_severe("First Suspension", "No")
    assert RULES.is_severe("Warning", "Yes") and not RULES.is_severe("Warning", "No")


@pytest.mark.parametrize(("table", "key"), [
    ({"decisions": {"bogus": 1}}, "decisions.bogus"),
    ({"decisions": {"no_consensus_share": [3, 2]}}, "decisions.no_consensus_share"),
    ({"decisions": {"consensus_min_agree": 0}}, "decisions.consensus_min_agree"),
    ({}, "[decisions]"),
])
def test_bad_rules_name_the_key(table: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        parse_rules(table)


def test_a_typo_in_decisions_toml_stops_loading_the_rules(tmp_path: Path) -> None:
    from bot.rules.loader import load_rules_from

    for path in shipped_dir("rules").glob("*.toml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_rules_from(tmp_path)
    (tmp_path / "decisions.toml").write_text("[decisions]\nconsensus_min_agre = 2\n")
    with pytest.raises(ConfigError, match=r"decisions\.consensus_min_agre: unknown key"):
        load_rules_from(tmp_path)
