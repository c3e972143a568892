"""`#username NAME`: a username the reporter uses, so outgoing mail is checked for it."""

from __future__ import annotations

import re

from bot.commands._common import record_event
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.events import EventKind

_USERNAME_RE = re.compile(r"^@?[\w.+-]{2,64}$")


@command
class Username(Command):
    """#username NAME - record a username the reporter uses (forum, Discord, GitHub...).

    "Remove or redact names, usernames, and email addresses" (communications
    guidelines): once recorded, a member's mail in this case that goes outside
    the group is checked for it, as for the reporter's name and address.
    The transcript does not repeat the username.
    """

    name = "username"
    echo_arguments = False

    def run(self, cc: CommandContext) -> CommandResult:
        """Record the username as an event on the case."""
        value = cc.args.strip()
        if not _USERNAME_RE.match(value):
            raise CommandError("#username needs one username (letters, digits, . _ + -)")
        record_event(cc, EventKind.REPORTER_USERNAME, username=value.lstrip("@"))
        return CommandResult("reporter username recorded for the leak check",
                             changed={"reporter_username": "recorded"})
