"""`#harassment yes|no|maybe`: the record's Ongoing Harassment field."""

from __future__ import annotations

from bot.commands._common import choose, set_field
from bot.commands.base import Command, CommandContext, CommandResult, command
from bot.core.events import EventKind

VALUES = ("Yes", "No", "Maybe")
CHOICES = {"yes": "Yes", "y": "Yes", "no": "No", "n": "No", "maybe": "Maybe"}


@command
class Harassment(Command):
    """#harassment yes|no|maybe - set the record's Ongoing Harassment.

    Is there a risk of repeated behavior?
    """

    name = "harassment"

    def run(self, cc: CommandContext) -> CommandResult:
        """Set Ongoing Harassment to Yes, No or Maybe."""
        value = choose(cc.args, CHOICES, VALUES, "ongoing harassment value")
        return set_field(cc, "ongoing_harassment", "Ongoing Harassment", value,
                         EventKind.ONGOING_HARASSMENT_SET)
