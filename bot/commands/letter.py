"""`#letter [outcome|progress|feedback|board]`: a skeleton to edit and send as a #draft."""

from __future__ import annotations

from bot.commands._common import record_event
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.events import EventKind
from bot.mail.drafts import strip_tags
from bot.outbound.outbox import queue_mail, valid_address
from bot.store.recusal import shut_out

# The subject each letter is sent with (the skeleton's Draft-Subject line).
SUBJECTS = {
    "reported": "A message from the Django Code of Conduct Working Group",
    "outcome": "The outcome of your report",
    "progress": "An update on your report",
    "feedback": "The proposed resolution of your report",
    "board": "Code of Conduct Working Group report to the board",
}
# #letter argument -> template (templates/letter_<kind>.txt.j2).
KINDS = {
    "": "reported",
    "reported": "reported",
    "outcome": "outcome",
    "progress": "progress",
    "feedback": "feedback",
    "board": "board",
}


def case_facts(cc: CommandContext) -> dict[str, object]:
    """The record fields a letter can be filled with (missing ones are None)."""
    from bot.outbound.acknowledgement import first_name

    case = cc.case
    contact = cc.app.config.member_for(case.point_of_contact)
    return {
        "date_reported": case.date_reported.date().isoformat() if case.date_reported else None,
        "status": case.status,
        "resolution_source": case.resolution_source,
        "resolution_date": case.resolution_date.isoformat() if case.resolution_date else None,
        "consequences": case.consequences,
        "safety_risk": case.safety_risk,
        "ongoing_harassment": case.ongoing_harassment,
        "review_date": case.review_date.isoformat() if case.review_date else None,
        "contact_first_name": first_name(contact.name) if contact else "",
    }


@command
class Letter(Command):
    """#letter [outcome|progress|feedback|board] - mail me a skeleton letter for this case.

    "#letter" alone: a letter to the reported party with the four parts the
    guidelines ask for (description of behaviour, impact, behavioural
    modifications expected, consequences) as headings, and the guidance under
    each. "outcome", "progress" and "feedback" (asking whether the proposed
    resolution is acceptable, as the manual requires) are for the reporter;
    "board" is the report to the DSF board via the liaison ([board] liaison),
    with code names, dates, the decision and the consequence, no names. The
    skeleton, filled with the case's record, goes to you only: edit it and
    send it as a #draft.
    """

    name = "letter"

    def run(self, cc: CommandContext) -> CommandResult:
        """Render the chosen skeleton and mail it to the member who asked."""
        word = strip_tags(cc.args).split()
        kind = KINDS.get(word[0].lower() if word else "")
        if kind is None:
            raise CommandError("use #letter, or #letter outcome|progress|feedback|board")
        if cc.msg.quiet:
            return CommandResult("imported mail: no letter sent")
        config = cc.app.config
        draft_to: list[str] = []
        note = ""
        if kind in ("outcome", "progress", "feedback"):
            if valid_address(cc.case.reporter_address):
                draft_to = [str(cc.case.reporter_address)]
        elif kind == "board":
            excluded = shut_out(cc.session, config, cc.case)
            liaison = config.board.liaison
            if liaison and liaison not in excluded:
                draft_to = [liaison]
            elif liaison:
                note = ("The board liaison is excluded from this case: address the other "
                        "board members instead, leaving out anyone the report involves.")
            else:
                note = "No board liaison is configured ([board] liaison): fill in Draft-To."
        queue_mail(cc.session, cc.app, kind="letter", template=f"letter_{kind}",
                   to=[cc.member.email], case=cc.case, reply_to=cc.msg.pm,
                   auto_submitted="auto-replied",
                   context={**case_facts(cc), "member_name": cc.member.name,
                            "draft_to": draft_to, "note": note,
                            "draft_subject": SUBJECTS[kind]})
        record_event(cc, EventKind.LETTER_SCAFFOLD_SENT, letter=kind)
        return CommandResult(f"the {kind} letter skeleton was mailed to you only")
