"""`#note text`: a dated note in the case documentation."""

from __future__ import annotations

from bot.commands._common import record_event, today, without_identities
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.events import EventKind

MAX_NOTE_CHARS = 2000


@command
class Note(Command):
    """#note text - add a dated note to the case documentation.

    The manual asks that discussion summaries carry their dates. Keep notes
    vague enough that members with a conflict of interest learn no details,
    and use gender-neutral language for the reported person.
    """

    name = "note"
    echo_arguments = False

    def run(self, cc: CommandContext) -> CommandResult:
        """Record the note text as an event."""
        text = cc.args.strip()
        if not text:
            raise CommandError("#note needs text after it")
        if len(text) > MAX_NOTE_CHARS:
            raise CommandError(f"the note is longer than {MAX_NOTE_CHARS} characters")
        day = today(cc)
        record_event(cc, EventKind.NOTE, date=day.isoformat(), text=without_identities(cc, text))
        # The transcript does not repeat the text: it quotes no case content.
        return CommandResult(f"note dated {day.isoformat()} added ({len(text)} characters)",
                             changed={"note": day.isoformat()})
