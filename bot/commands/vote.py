"""`#agree`, `#object [why]`, `#abstain`: a member's vote on the open proposal."""

from __future__ import annotations

from bot.commands import _decisions as dec
from bot.commands._common import record_event
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.events import EventKind
from bot.governance.quorum import ABSTAIN, AGREE, OBJECT

WHY_MAX = 300


def vote(cc: CommandContext, choice: str) -> CommandResult:
    """Record `choice` on the open proposal and show the tally (and the outcome)."""
    prop = dec.current(cc)
    if prop is None:
        raise CommandError("there is no open proposal on this case (#propose opens one)")
    if cc.member.email == prop.proposer:
        raise CommandError("you made this proposal; it already counts as in favour")
    previous = prop.votes.get(cc.member.email)
    extra: dict[str, object] = {}
    why = " ".join(cc.args.split())[:WHY_MAX]
    if choice == OBJECT and why:
        extra["why"] = why
    record_event(cc, EventKind.VOTE_CAST, proposal=prop.id, vote=choice, previous=previous,
                 **extra)
    cc.session.flush()
    fresh = dec.current(cc)
    assert fresh is not None
    _v, tally = dec.record_tally(cc, fresh)
    said = f"your vote ({choice}) is recorded" + (f", replacing {previous}" if previous else "")
    return CommandResult(f"{said}; {tally}", changed={"vote": choice})


@command
class Agree(Command):
    """#agree - agree with the open proposal on this case.

    The manual: a resolution is agreed "by consensus" (here: at least two members
    besides the proposer agree and nobody objects); "Where consensus cannot be
    reached, decisions may be made by a two-thirds majority vote of working group
    members without a conflict of interest." A suspension or ban, or a case with
    Safety Risk yes, also needs a majority of those members. Your latest vote counts.
    """

    name = "agree"

    def run(self, cc: CommandContext) -> CommandResult:
        """Vote in favour."""
        return vote(cc, AGREE)


@command
class Object(Command):
    """#object [why] - object to the open proposal (there is then no consensus).

    With an objection the proposal needs two-thirds of the members without a
    conflict of interest in favour. The reason is kept in the case history.
    """

    name = "object"
    echo_arguments = False

    def run(self, cc: CommandContext) -> CommandResult:
        """Vote against."""
        return vote(cc, OBJECT)


@command
class Abstain(Command):
    """#abstain - take no side on the open proposal (you still count as a member)."""

    name = "abstain"

    def run(self, cc: CommandContext) -> CommandResult:
        """Abstain."""
        return vote(cc, ABSTAIN)
