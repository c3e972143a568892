"""`#review YYYY-MM-DD`: set (or clear) the date on which the case is to be reviewed."""

from __future__ import annotations

from datetime import date

from bot.commands._common import moment, today
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.events import EventKind
from bot.store.records import add_event

CLEAR_WORDS = ("done", "none", "clear", "off")


@command
class Review(Command):
    """#review YYYY-MM-DD - set the case's review date; #review done clears it.

    The manual ("After Decisions Are Made") asks that the records hold the
    actions taken, the outcome and a review date. On the review date the point
    of contact (else the chair) is reminded, and again each day until the
    review is marked with "#review done" or moved with a new date.
    """

    name = "review"

    def run(self, cc: CommandContext) -> CommandResult:
        """Set, move or clear Case.review_date, recording the change as an event."""
        case = cc.case
        arg = cc.args.strip().split()[0].lower() if cc.args.strip() else ""
        previous = case.review_date.isoformat() if case.review_date else None
        if not arg:
            raise CommandError("give a date as YYYY-MM-DD (or 'done' to clear the review date)")
        if arg in CLEAR_WORDS:
            if case.review_date is None:
                return CommandResult("no review date was set; nothing changed")
            case.review_date = None
            cc.session.add(case)
            add_event(cc.session, case, EventKind.REVIEW_DATE_CLEARED, actor=cc.member.email,
                      message_id=cc.msg.pm.message_id, at=moment(cc), previous=previous)
            return CommandResult(f"review date {previous} cleared",
                                 changed={"review_date": None})
        try:
            when = date.fromisoformat(arg)
        except ValueError:
            raise CommandError(f"not a date: {arg!r}; write it as YYYY-MM-DD") from None
        day = today(cc)
        if when < day:
            raise CommandError(f"{when.isoformat()} is in the past (today is {day.isoformat()})")
        if case.review_date == when:
            return CommandResult(f"review date already {when.isoformat()}; nothing changed")
        case.review_date = when
        cc.session.add(case)
        add_event(cc.session, case, EventKind.REVIEW_DATE_SET, actor=cc.member.email,
                  message_id=cc.msg.pm.message_id, at=moment(cc),
                  review_date=when.isoformat(), previous=previous)
        return CommandResult(f"review date set to {when.isoformat()}",
                             changed={"review_date": when.isoformat()})
