"""`#draft [reported|info]`: file a mail for review before it leaves the group."""

from __future__ import annotations

from bot.commands._common import record_event
from bot.commands._drafts import check_recipients, draft_of, draft_states, mode_of, review
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.events import EventKind


@command
class DraftCommand(Command):
    """#draft [reported|info] - have a mail checked and approved before it is sent.

    Write the mail as you would send it, but to the conduct address, with #draft
    in the subject (on the case's thread, or with its [CoC code] in the
    subject) and the real recipients on the first lines of the body:
        Draft-To: Name <name@example.org>
        Draft-Cc: other@example.org
        Draft-Subject: the subject to send (optional)
    The bot answers you alone with what it found: the reporter's or a witness's
    name, address or username (also in quoted or attached text), exact times and
    dates, phrases copied from the reporter's mail, and for the reported party
    the four parts (description of behaviour, impact, behavioural
    modifications expected, consequences, as headings or checklist lines).
    "#draft reported" always asks for the four parts, "#draft info" never
    (organisers, moderators); by default a recipient the case does not know is
    taken to be the reported party. Another member then replies #approve (or
    #revise); only then is it sent, from the conduct address, copying it.
    """

    name = "draft"
    # The rest of the subject follows the tag: it may be case content.
    echo_arguments = False

    def run(self, cc: CommandContext) -> CommandResult:
        """Parse and check the draft; record it; list the findings for its author."""
        if cc.msg.is_new_case:
            raise CommandError("a draft must belong to a case: reply on the case's thread or "
                               "keep its [CoC code] in the subject")
        pm = cc.msg.pm
        if not pm.message_id:
            raise CommandError("the draft has no Message-ID, so it cannot be approved later")
        draft = draft_of(pm)
        check_recipients(cc.session, cc.app.config, cc.case, draft)
        mode = mode_of(cc.args)
        findings = review(cc.session, cc.app.config, cc.case, pm, draft, mode)
        # A new version replaces the author's earlier drafts still waiting in the case,
        # so an approval meant for it can never send an old one.
        for old in draft_states(cc.session, cc.case):
            if old.status == "pending" and old.author == cc.member.email and \
                    old.message_id != pm.message_id:
                record_event(cc, EventKind.DRAFT_REVISED, draft=old.message_id,
                             superseded_by=pm.message_id)
        # Imported mail starts no review clock (`bot.governance.review.awaiting_review`).
        extra = {"backfill": True} if cc.msg.quiet else {}
        record_event(cc, EventKind.DRAFT_FILED, to=list(draft.to), copy=list(draft.cc), mode=mode,
                     findings=[f.kind for f in findings], **extra)
        who = ", ".join([*draft.to, *draft.cc])
        if findings:
            lines = "\n".join(f"  - {f.text}" for f in findings)
            return CommandResult(
                f"draft filed for {who}, with {len(findings)} finding"
                f"{'' if len(findings) == 1 else 's'}:\n{lines}\n"
                "Send a corrected draft (a new message with #draft and the case's [CoC "
                "code] in the subject; a 'Draft-Subject:' line sets the subject to send), "
                "or a second member can approve this one anyway with "
                "'#approve override REASON'.",
                data={"findings": len(findings)})
        return CommandResult(f"draft filed for {who}; no findings. Another member can now "
                             "reply to the draft with #approve (or #revise with a note).",
                             data={"findings": 0})
