"""`#witness NAME <addr>`: record a witness, so drafts are checked for them too."""

from __future__ import annotations

from email.utils import parseaddr

from bot.commands._common import record_event
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.events import EventKind
from bot.mail.drafts import strip_tags
from bot.outbound.outbox import valid_address

MAX_NAME = 100


@command
class Witness(Command):
    """#witness NAME [<addr>] - record a witness of the incident.

    Drafts (#draft) are then checked for the witness's name and address as for
    the reporter's: the guidelines ask to anonymise witnesses too.
    """

    name = "witness"
    echo_arguments = False

    def run(self, cc: CommandContext) -> CommandResult:
        """Record the witness's name and address in the case history."""
        text = strip_tags(cc.args)  # without the subject's [CoC code] tag
        if not text:
            raise CommandError("usage: #witness NAME <address>")
        name, addr = parseaddr(text) if "<" in text else (text, "")
        if "@" in name and not addr:
            name, addr = "", name
        name = name.strip(" \"'")[:MAX_NAME]
        addr = addr.strip().lower()
        if addr and not valid_address(addr):
            raise CommandError("the witness's address is not a plain address")
        if not name and not addr:
            raise CommandError("usage: #witness NAME <address>")
        record_event(cc, EventKind.WITNESS_RECORDED, name=name, address=addr)
        return CommandResult("witness recorded; drafts in this case are now checked for them")
