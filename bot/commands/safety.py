"""`#safety yes|no`: the record's Safety Risk field."""

from __future__ import annotations

from bot.commands._common import choose, record_event, set_field
from bot.commands.base import Command, CommandContext, CommandResult, command
from bot.core.events import EventKind
from bot.governance.danger import open_alarm
from bot.store.records import case_events

VALUES = ("Yes", "No")
CHOICES = {"yes": "Yes", "y": "Yes", "no": "No", "n": "No"}


@command
class Safety(Command):
    """#safety yes|no - set the record's Safety Risk.

    Does this incident pose a safety risk or include threats to physical
    safety? If so, any member must act to protect safety at once (see "Acting
    Unilaterally" in the manual). Either answer stops the urgent reminders of a
    danger alarm on the case (so does writing to the reporter).
    """

    name = "safety"

    def run(self, cc: CommandContext) -> CommandResult:
        """Set Safety Risk to Yes or No."""
        value = choose(cc.args, CHOICES, VALUES, "safety risk")
        if cc.case.safety_risk == value:
            # Unchanged, but it still answers a danger alarm raised since.
            cc.session.flush()
            if open_alarm(case_events(cc.session, cc.case)) is not None:
                record_event(cc, EventKind.SAFETY_RISK_SET, field="safety_risk", old=value,
                             new=value)
                return CommandResult(f"Safety Risk is already {value}; the danger alarm is "
                                     "answered")
        return set_field(cc, "safety_risk", "Safety Risk", value, EventKind.SAFETY_RISK_SET)
