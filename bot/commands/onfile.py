"""`#onfile`: thank a reporter whose issue was already handled, and close the case."""

from __future__ import annotations

from sqlmodel import col, select

from bot.commands._common import record_event
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.commands.resolve import resolve_case
from bot.message import ParsedMessage
from bot.models import Case, Event, InboundMessage
from bot.outbox import queue_mail, valid_address
from bot.parse import ParseError, extract_forwarded, parse_message

SOURCE = "Local Event Reps"
ACK_EVENT = "on_file_acknowledged"


def report_message(cc: CommandContext) -> ParsedMessage | None:
    """The reporter's own message (the forwarded original for a member's forward)."""
    row = cc.session.exec(
        select(InboundMessage)
        .where(InboundMessage.case_id == cc.case.id,
               col(InboundMessage.kind).in_(("report", "forwarded-report")))
        .order_by(col(InboundMessage.received_at), col(InboundMessage.id))
    ).first()
    if row is None:
        return None
    try:
        pm = parse_message(row.raw)
    except ParseError:
        return None
    return extract_forwarded(pm) if row.kind == "forwarded-report" else pm


def _already_acknowledged(cc: CommandContext, case: Case) -> bool:
    return cc.session.exec(
        select(Event.id).where(Event.case_id == case.id, Event.kind == ACK_EVENT)
    ).first() is not None


def _greeting(name: str | None) -> str:
    """First name for "Hi X," (the manual's templates greet by name)."""
    parts = (name or "").replace('"', "").split()
    return parts[0] if parts and "@" not in parts[0] else ""


@command
class OnFile(Command):
    """#onfile - the report says action was already taken: acknowledge and close.

    Sends the reporter the manual's "we're going to keep this report on file"
    acknowledgement (signed by the point of contact, or by you) and resolves the
    case with source "Local Event Reps". Repeating it sends nothing twice.
    """

    name = "onfile"

    def run(self, cc: CommandContext) -> CommandResult:
        """Queue the on-file acknowledgement (once) and resolve the case."""
        case = cc.case
        texts: list[str] = []
        changed: dict[str, object] = {}
        if _already_acknowledged(cc, case):
            texts.append("the on-file acknowledgement was already sent; not sent again")
        else:
            reporter = case.reporter_address
            if not reporter or not valid_address(reporter):
                raise CommandError("this case has no reporter address to write to")
            if cc.msg.quiet:
                texts.append("imported mail: no acknowledgement sent")
            else:
                contact = cc.app.config.member_for(case.point_of_contact) or cc.member
                report = report_message(cc)
                context: dict[str, object] = {
                    "greeting_name": _greeting(case.reporter_name),
                    "contact_name": contact.name, "danger": False}
                if report is None:
                    context["reply_subject"] = "Your report"
                row = queue_mail(
                    cc.session, cc.app, kind="acknowledgement", template="ack_on_file",
                    to=[reporter], case=case, reply_to=report,
                    auto_submitted="auto-replied", context=context)
                record_event(cc, ACK_EVENT, outbox_message_id=row.message_id)
                texts.append("the on-file acknowledgement was queued to the reporter")
                changed["acknowledged"] = "on file"
        result = resolve_case(cc, SOURCE)
        texts.append(result.text)
        changed.update(result.changed)
        return CommandResult("; ".join(texts), changed=changed)
