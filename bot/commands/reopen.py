"""`#reopen`: set a resolved case back to Ongoing."""

from __future__ import annotations

from bot.commands._common import record_event
from bot.commands.base import Command, CommandContext, CommandResult, command
from bot.core.events import EventKind
from bot.store.records import STATUS_ONGOING


@command
class Reopen(Command):
    """#reopen - set a Resolved case back to Ongoing (new information came to light).

    The resolution date and source are cleared; #resolve sets them again.
    """

    name = "reopen"

    def run(self, cc: CommandContext) -> CommandResult:
        """Reopen the case unless it is already ongoing."""
        case = cc.case
        if case.status == STATUS_ONGOING:
            return CommandResult(f"already {STATUS_ONGOING}; nothing changed")
        old = {"status": case.status, "resolution_date":
               case.resolution_date.isoformat() if case.resolution_date else None,
               "resolution_source": case.resolution_source}
        case.status = STATUS_ONGOING
        case.resolution_date = None
        case.resolution_source = None
        cc.session.add(case)
        record_event(cc, EventKind.REOPENED, status=STATUS_ONGOING, previous=old)
        return CommandResult(
            f"status set to {STATUS_ONGOING}; resolution date and source cleared",
            changed={"status": STATUS_ONGOING, "resolution_date": None,
                     "resolution_source": None})
