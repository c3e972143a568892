"""A case's proposals, derived from its event history (nothing else is stored).

`#propose` opens a proposal (`proposal_opened`, its event id is the proposal's
number); `#agree` / `#object` / `#abstain` add `vote_cast` events (a member's
latest vote counts); the quorum's outcome is a `proposal_agreed` or
`proposal_to_board` event; a newer `#propose` withdraws the open one.  Feedback
from affected parties (`#feedback`) is a `feedback_recorded` event naming the
agreed proposal.  Unilateral actions taken while a proposal is open are shown
in its tally.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from bot.core.events import EventKind
from bot.governance.quorum import AGREED, BOARD, OPEN, Ballot, QuorumRules, Verdict, decide
from bot.store.models import Event

WITHDRAWN = "withdrawn"


@dataclass
class Proposal:
    """One proposal and what happened to it."""

    id: int
    proposer: str
    consequence: str | None
    opened_at: datetime
    votes: dict[str, str] = field(default_factory=dict)
    status: str = OPEN  # open | agreed | board | withdrawn
    decided_at: datetime | None = None
    feedback: list[Event] = field(default_factory=list)
    unilateral: list[Event] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        """True while votes still count."""
        return self.status == OPEN

    @property
    def feedback_recorded(self) -> bool:
        """True once `#feedback` (or `#feedback none`) was recorded for it."""
        return bool(self.feedback)

    def ballot(self, eligible: Iterable[str], severe: bool) -> Ballot:
        """The ballot the quorum policy judges."""
        return Ballot(proposer=self.proposer, eligible=frozenset(eligible), votes=self.votes,
                      severe=severe, opened_at=self.opened_at)

    def verdict(self, eligible: Iterable[str], severe: bool, rules: QuorumRules,
                now: datetime, decision_days: float) -> Verdict:
        """The quorum policy's verdict on this proposal now."""
        return decide(self.ballot(eligible, severe), rules, now, decision_days)


def _pid(ev: Event) -> int | None:
    value = ev.data.get("proposal")
    return value if isinstance(value, int) else None


def proposals(events: Iterable[Event]) -> list[Proposal]:
    """Every proposal of the case, oldest first (events in history order)."""
    found: dict[int, Proposal] = {}
    for ev in events:
        if ev.kind == EventKind.PROPOSAL_OPENED and ev.id is not None:
            prop = Proposal(id=ev.id, proposer=(ev.actor or "").lower(),
                            consequence=ev.data.get("consequence"), opened_at=ev.at)
            found[ev.id] = prop
            continue
        if ev.kind == EventKind.UNILATERAL_ACTION:
            for prop in found.values():
                if prop.is_open:
                    prop.unilateral.append(ev)
            continue
        pid = _pid(ev)
        target = found.get(pid) if pid is not None else None
        if target is None:
            continue
        prop = target
        if ev.kind == EventKind.VOTE_CAST and prop.is_open and ev.actor:
            prop.votes[ev.actor.lower()] = str(ev.data.get("vote"))
        elif ev.kind == EventKind.PROPOSAL_AGREED and prop.is_open:
            prop.status, prop.decided_at = AGREED, ev.at
        elif ev.kind == EventKind.PROPOSAL_TO_BOARD and prop.is_open:
            prop.status, prop.decided_at = BOARD, ev.at
        elif ev.kind == EventKind.PROPOSAL_WITHDRAWN and prop.is_open:
            prop.status, prop.decided_at = WITHDRAWN, ev.at
        elif ev.kind == EventKind.FEEDBACK_RECORDED:
            prop.feedback.append(ev)
    return list(found.values())


def open_proposal(events: Iterable[Event]) -> Proposal | None:
    """The proposal votes go to now, if any."""
    return next((p for p in reversed(proposals(events)) if p.is_open), None)


def latest_agreed(events: Iterable[Event]) -> Proposal | None:
    """The most recently agreed proposal, if any."""
    return next((p for p in reversed(proposals(events)) if p.status == AGREED), None)
