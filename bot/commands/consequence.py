"""`#consequence value`: the record's Consequences field."""

from __future__ import annotations

from bot.commands import _decisions as dec
from bot.commands._common import choose, normalise, set_field
from bot.commands.base import Command, CommandContext, CommandResult, command
from bot.core.events import EventKind
from bot.governance.gate import why_held

# The manual's list under Record Keeping, in its order.
CONSEQUENCES = ("Not a violation", "Out of scope", "No action taken", "Warning",
                "First Suspension", "Second Suspension", "Ban", "Other")
CHOICES = {normalise(c): c for c in CONSEQUENCES}


@command
class Consequence(Command):
    """#consequence value - set the record's Consequences (enforcement actions taken).

    One of: Not a violation, Out of scope, No action taken, Warning, First
    Suspension, Second Suspension, Ban, Other (any letter case). Anything
    stronger than Warning needs a proposal for it the group agreed (#propose,
    #agree): "The chair requires at least two members of the working group to
    agree on these actions." Without one it is held, and the reason given.
    """

    name = "consequence"

    def run(self, cc: CommandContext) -> CommandResult:
        """Set Consequences to one of the manual's values."""
        value = choose(cc.args, CHOICES, CONSEQUENCES, "consequence")
        if cc.case.consequences != value:
            reason = why_held(cc.session, cc.app.config, cc.case, value)
            if reason is not None:
                return CommandResult(dec.hold(cc, "consequence", reason), ok=False)
        return set_field(cc, "consequences", "Consequences", value, EventKind.CONSEQUENCES_SET)
