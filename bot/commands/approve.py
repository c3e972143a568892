"""`#approve [override REASON]`: a second member sends a reviewed draft."""

from __future__ import annotations

from bot.commands._common import record_event
from bot.commands._drafts import (
    author_shut_out,
    check_recipients,
    draft_message,
    draft_of,
    filed_mode,
    review,
    same_member,
    send_draft,
    target_draft,
)
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.events import EventKind
from bot.mail.drafts import strip_tags


def _refuse(cc: CommandContext, draft: str, reason: str) -> CommandError:
    record_event(cc, EventKind.DRAFT_APPROVAL_REFUSED, draft=draft, reason=reason)
    return CommandError(reason)


@command
class Approve(Command):
    """#approve [override REASON] - send a draft another member wrote.

    Reply to the draft (as it reached you through the conduct address). The
    checks run again; a draft with open findings needs "#approve override"
    and a reason, which is recorded. You cannot approve your own draft. The
    bot then sends it from the conduct address to the Draft-To/Draft-Cc
    recipients, copying the conduct address, without the Draft lines and tags,
    and records who wrote and who approved it.
    """

    name = "approve"
    echo_arguments = False

    def run(self, cc: CommandContext) -> CommandResult:
        """Check the approver, the draft and its findings; then queue it."""
        if cc.msg.quiet:
            # Imported or backfilled mail never sends anything, least of all a letter.
            return CommandResult("imported mail: nothing was sent", ok=True)
        state = target_draft(cc.session, cc.case, cc.msg.pm)
        if state.status == "sent":
            return CommandResult("this draft was already sent; nothing changed", ok=True)
        if state.status == "revised":
            raise _refuse(cc, state.message_id, "this draft was sent back for revision; "
                          "approve the new draft instead")
        config = cc.app.config
        if same_member(config, state.author, cc.member) or state.author == cc.member.email:
            raise _refuse(cc, state.message_id, "you wrote this draft: a second member must "
                          "approve it")
        if author_shut_out(cc.session, config, cc.case, state.author):
            raise _refuse(cc, state.message_id, "the draft's author is shut out of this case "
                          "now; it cannot be sent")
        args = strip_tags(cc.args)  # a subject's [CoC code] tag is not an argument
        override: str | None = None
        if args:
            word, _, rest = args.partition(" ")
            if word.lower() != "override":
                raise _refuse(cc, state.message_id, "use '#approve' or "
                              "'#approve override REASON'")
            override = rest.strip()
            if not override:
                raise _refuse(cc, state.message_id, "'#approve override' needs a reason")
        author = config.member_for(state.author)
        pm = draft_message(cc.session, cc.case, state.message_id,
                           author.addresses if author is not None else [state.author])
        draft = draft_of(pm)
        check_recipients(cc.session, config, cc.case, draft)
        findings = review(cc.session, config, cc.case, pm, draft,
                          filed_mode(cc.session, cc.case, state.message_id))
        if findings and override is None:
            listed = "\n".join(f"  - {f.text}" for f in findings)
            raise _refuse(cc, state.message_id,
                          f"the draft has {len(findings)} open finding"
                          f"{'' if len(findings) == 1 else 's'}:\n{listed}\n"
                          "Ask for a corrected draft with #revise, or approve it anyway with "
                          "'#approve override REASON'.")
        send_draft(cc, state, pm, draft, override=override, findings=findings)
        who = ", ".join(draft.recipients)
        return CommandResult(f"draft approved and queued to {who}"
                             + (" (override recorded)" if override else ""))
