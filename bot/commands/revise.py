"""`#revise [note]`: send a draft back to its author."""

from __future__ import annotations

from bot.commands._common import record_event
from bot.commands._drafts import target_draft
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.events import EventKind
from bot.mail.drafts import strip_tags
from bot.outbound.outbox import queue_mail, valid_address


@command
class Revise(Command):
    """#revise [note] - send a draft back to its author for another version.

    Reply to the draft. The draft can no longer be approved; its author gets
    your note privately and sends a new #draft.
    """

    name = "revise"
    echo_arguments = False

    def run(self, cc: CommandContext) -> CommandResult:
        """Close the draft and pass the note to its author."""
        state = target_draft(cc.session, cc.case, cc.msg.pm)
        if state.status != "pending":
            raise CommandError(f"this draft was already {state.status}")
        note = strip_tags(cc.args)  # without the subject's [CoC code] tag
        record_event(cc, EventKind.DRAFT_REVISED, draft=state.message_id, has_note=bool(note))
        author = cc.app.config.member_for(state.author)
        if author is not None and author.email != cc.member.email and \
                valid_address(author.email) and not cc.msg.quiet:
            queue_mail(cc.session, cc.app, kind="draft_revise", template="draft_revise",
                       to=[author.email], case=cc.case, reply_to=cc.msg.pm,
                       auto_submitted="auto-replied",
                       context={"author_name": author.name, "reviewer_name": cc.member.name,
                                "note": note})
        return CommandResult("draft sent back for revision"
                             + (" with your note" if note else ""))
