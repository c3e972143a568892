"""`#safety yes|no`: the record's Safety Risk field."""

from __future__ import annotations

from bot.commands._common import choose, set_field
from bot.commands.base import Command, CommandContext, CommandResult, command
from bot.core.events import EventKind

VALUES = ("Yes", "No")
CHOICES = {"yes": "Yes", "y": "Yes", "no": "No", "n": "No"}


@command
class Safety(Command):
    """#safety yes|no - set the record's Safety Risk.

    Does this incident pose a safety risk or include threats to physical
    safety? If so, any member must act to protect safety at once (see "Acting
    Unilaterally" in the manual).
    """

    name = "safety"

    def run(self, cc: CommandContext) -> CommandResult:
        """Set Safety Risk to Yes or No."""
        value = choose(cc.args, CHOICES, VALUES, "safety risk")
        return set_field(cc, "safety_risk", "Safety Risk", value, EventKind.SAFETY_RISK_SET)
