"""`#neutral [off]`: drafts in this case use gender-neutral language."""

from __future__ import annotations

from bot.commands._common import record_event
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.events import EventKind
from bot.hygiene.draftcheck import neutral_language
from bot.mail.drafts import strip_tags


@command
class Neutral(Command):
    """#neutral [off] - flag gendered pronouns in this case's drafts.

    For people the case records as preferring neutral language: drafts that use
    he/she/him/her (or Mr/Ms) get a finding. "#neutral off" stops it.
    """

    name = "neutral"

    def run(self, cc: CommandContext) -> CommandResult:
        """Record the preference."""
        arg = strip_tags(cc.args).lower()
        if arg not in ("", "on", "off"):
            raise CommandError("use '#neutral' or '#neutral off'")
        on = arg != "off"
        if neutral_language(cc.session, cc.case) == on:
            return CommandResult("nothing changed")
        record_event(cc, EventKind.NEUTRAL_LANGUAGE_SET, on=on)
        return CommandResult("drafts in this case are now checked for gendered words" if on
                             else "gendered words are no longer flagged in this case's drafts")
