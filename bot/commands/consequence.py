"""`#consequence value`: the record's Consequences field."""

from __future__ import annotations

from bot.commands._common import choose, normalise, set_field
from bot.commands.base import Command, CommandContext, CommandResult, command
from bot.core.events import EventKind

# The manual's list under Record Keeping, in its order.
CONSEQUENCES = ("Not a violation", "Out of scope", "No action taken", "Warning",
                "First Suspension", "Second Suspension", "Ban", "Other")
CHOICES = {normalise(c): c for c in CONSEQUENCES}


@command
class Consequence(Command):
    """#consequence value - set the record's Consequences (enforcement actions taken).

    One of: Not a violation, Out of scope, No action taken, Warning, First
    Suspension, Second Suspension, Ban, Other (any letter case).
    """

    name = "consequence"

    def run(self, cc: CommandContext) -> CommandResult:
        """Set Consequences to one of the manual's values."""
        value = choose(cc.args, CHOICES, CONSEQUENCES, "consequence")
        return set_field(cc, "consequences", "Consequences", value, EventKind.CONSEQUENCES_SET)
