"""Helpers for the decision commands: the case's proposals, tallies, the gates.

The policy itself is `bot.governance.quorum` (pure) over the state in
`bot.governance.proposals` (derived from events); this module joins them to a
command's case and writes the vote, tally and outcome events.
"""

from __future__ import annotations

from bot.commands._common import record_event
from bot.commands.base import CommandContext
from bot.core.clock import format_moment
from bot.core.events import EventKind
from bot.governance.proposals import Proposal, latest_agreed, open_proposal
from bot.governance.quorum import AGREED, QuorumRules, Verdict, load_quorum_rules
from bot.store.models import Event
from bot.store.records import case_events
from bot.store.recusal import members_in

# The manual's sentence a #resolve before feedback is held with.
FEEDBACK_SENTENCE = (
    '"Once a resolution is agreed upon, but before it is enacted, the working group will '
    "contact the original reporter and any other affected parties and explain the proposed "
    "resolution. The working group will ask if this resolution is acceptable, and must note "
    'feedback for the record." (manual, "Feedback from Affected Parties")')
DECISION_SENTENCE = (
    '"The chair requires at least two members of the working group to agree on these '
    'actions." (manual, "Decision-Making Process")')


def events(cc: CommandContext) -> list[Event]:
    """The case's history (merged cases included), flushed first."""
    cc.session.flush()
    return case_events(cc.session, cc.case)


def rules(cc: CommandContext) -> QuorumRules:
    """The decision rules (`rules/decisions.toml`)."""
    return load_quorum_rules(cc.app.config)


def eligible(cc: CommandContext) -> list[str]:
    """Main addresses of the members without a conflict of interest in the case."""
    return [m.email for m in members_in(cc.session, cc.app.config, cc.case)]


def current(cc: CommandContext) -> Proposal | None:
    """The open proposal on the case, if any."""
    return open_proposal(events(cc))


def agreed(cc: CommandContext) -> Proposal | None:
    """The most recently agreed proposal on the case, if any."""
    return latest_agreed(events(cc))


def verdict(cc: CommandContext, prop: Proposal) -> Verdict:
    """The quorum policy's verdict on `prop` now."""
    severe = rules(cc).is_severe(prop.consequence, cc.case.safety_risk)
    return prop.verdict(eligible(cc), severe, rules(cc), cc.app.now_utc(),
                        cc.app.config.schedule.decision_days)


def _name(cc: CommandContext, address: str) -> str:
    member = cc.app.config.member_for(address)
    return member.name if member is not None else "(not a member)"


def tally_text(cc: CommandContext, prop: Proposal, v: Verdict) -> str:
    """The tally as the transcript shows it (names of members only, no case content)."""
    what = prop.consequence or "no consequence on the ladder"
    text = f"proposal #{prop.id} ({what}): {v.summary}"
    if v.pending:
        text += "; not voted yet: " + ", ".join(_name(cc, m) for m in v.pending)
    if prop.unilateral:
        zone = cc.app.config.schedule.zone
        acts = ", ".join(f"{_name(cc, ev.actor or '')} at {format_moment(ev.at, zone)}"
                         for ev in prop.unilateral)
        text += f"; unilateral action taken while it is open: {acts}"
    return text


def record_tally(cc: CommandContext, prop: Proposal) -> tuple[Verdict, str]:
    """Count the votes, record the tally (and the outcome when agreed); the text."""
    v = verdict(cc, prop)
    record_event(cc, EventKind.TALLY, proposal=prop.id, outcome=v.outcome, rule=v.rule,
                 in_favour=v.in_favour, against=v.against, abstained=v.abstained,
                 eligible=v.eligible, needed=v.needed, pending=list(v.pending),
                 unilateral=len(prop.unilateral))
    text = tally_text(cc, prop, v)
    if v.outcome == AGREED:
        record_event(cc, EventKind.PROPOSAL_AGREED, proposal=prop.id,
                     consequence=prop.consequence, rule=v.rule)
        text += ("; AGREED. Before it is enacted, tell the reporter and other affected "
                 "parties and record their answer with #feedback")
    return v, text


def hold(cc: CommandContext, command: str, reason: str) -> str:
    """Record that a decision command was held, and say why."""
    record_event(cc, EventKind.DECISION_HELD, command=command, reason=reason)
    return f"held: {reason}"
