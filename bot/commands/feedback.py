"""`#feedback TEXT` / `#feedback none [why]`: the affected parties' answer, for the record."""

from __future__ import annotations

from bot.commands import _decisions as dec
from bot.commands._common import record_event, today, without_identities
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.events import EventKind

TEXT_MAX = 1000


@command
class Feedback(Command):
    """#feedback TEXT | none [why] - note the affected parties' feedback on the agreed resolution.

    The manual ("Feedback from Affected Parties"): "Once a resolution is agreed
    upon, but before it is enacted, the working group will contact the original
    reporter and any other affected parties and explain the proposed resolution.
    The working group will ask if this resolution is acceptable, and must note
    feedback for the record." Write what they said (dated, kept in the case
    history), or "#feedback none" with why if no feedback came. "However, the
    working group is not required to act on this feedback."
    """

    name = "feedback"
    echo_arguments = False

    def run(self, cc: CommandContext) -> CommandResult:
        """Record the feedback against the latest agreed proposal."""
        text = " ".join(cc.args.split())
        if not text:
            raise CommandError("write the feedback after #feedback, or #feedback none [why]")
        prop = dec.agreed(cc)
        if prop is None:
            raise CommandError("no resolution has been agreed on this case yet; feedback is "
                               "asked for once a proposal is agreed")
        none = text.lower() == "none" or text.lower().startswith("none ")
        day = today(cc).isoformat()
        record_event(cc, EventKind.FEEDBACK_RECORDED, proposal=prop.id, none=none,
                     text=without_identities(cc, text)[:TEXT_MAX], date=day)
        what = "no feedback" if none else "feedback"
        return CommandResult(f"{what} recorded for proposal #{prop.id} on {day}",
                             changed={"feedback": day})
