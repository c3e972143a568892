"""`#onfile`: thank a reporter whose issue was already handled, and close the case."""

from __future__ import annotations

from sqlmodel import col, select

from bot.commands._common import record_event
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.commands.resolve import resolve_case
from bot.core.events import EventKind
from bot.mail.message import ParsedMessage
from bot.mail.parse import ParseError, extract_forwarded, parse_message
from bot.store.models import Event, InboundMessage
from bot.store.records import case_events

SOURCE = "Local Event Reps"
TEMPLATE = "ack_on_file"


def report_message(cc: CommandContext) -> ParsedMessage | None:
    """The reporter's own message (the forwarded original for a member's forward).

    Only a report from the case's reporter counts: after a merge the case holds
    other people's reports too, and the acknowledgement answers (and greets) the
    message it replies to, so any other would leak that person's name and subject.
    """
    reporter = (cc.case.reporter_address or "").strip().lower()
    rows = cc.session.exec(
        select(InboundMessage)
        .where(InboundMessage.case_id == cc.case.id,
               col(InboundMessage.kind).in_(("report", "forwarded-report")))
        .order_by(col(InboundMessage.received_at), col(InboundMessage.id))
    ).all()
    for row in rows:
        try:
            pm = parse_message(row.raw)
        except ParseError:
            continue
        report = extract_forwarded(pm) if row.kind == "forwarded-report" else pm
        sender = report.first_from if report is not None else None
        if reporter and sender is not None and sender.key == reporter:
            return report
    return None


def already_sent(cc: CommandContext) -> bool:
    """True when the case's reporter already got the on-file acknowledgement."""
    events = cc.session.exec(
        select(Event).where(Event.case_id == cc.case.id,
                            Event.kind == EventKind.ACKNOWLEDGEMENT_QUEUED)
    ).all()
    return any(ev.data.get("template") == TEMPLATE for ev in events)


def carries_danger(cc: CommandContext) -> str | None:
    """Why the case counts as carrying danger, or None."""
    if (cc.case.safety_risk or "").strip().lower() == "yes":
        return "the case's Safety Risk is Yes"
    cc.session.flush()
    detected = False
    for ev in case_events(cc.session, cc.case):
        if ev.kind in (EventKind.DANGER_DETECTED, EventKind.URGENT_NOTICE_QUEUED):
            detected = True
        elif ev.kind == EventKind.SAFETY_RISK_SET and ev.data.get("new") == "No":
            detected = False
    if detected:
        return "the case may involve physical danger and no member has set #safety no"
    return None


@command
class OnFile(Command):
    """#onfile - the report says action was already taken: acknowledge and close.

    Sends the reporter the manual's "we're going to keep this report on file"
    acknowledgement (signed by the point of contact, if there is one) and
    resolves the case with source "Local Event Reps", which stops its clocks.
    Repeating it sends nothing twice. The manual: "If the received report clearly
    states that the action has been taken already, and the issue is only reported
    to be kept on file in our central log, the working group can close the issue".
    Refused while the case may involve physical danger (Safety Risk yes, or a
    danger alarm no member answered with #safety no).
    """

    name = "onfile"

    def run(self, cc: CommandContext) -> CommandResult:
        """Queue the on-file acknowledgement (once) and resolve the case."""
        # Imported here: importing the module registers its handler, and the
        # handler chain's order is set by bot.handlers alone.
        from bot.outbound.acknowledgement import queue_acknowledgement

        danger = carries_danger(cc)
        if danger:
            raise CommandError(f"refused: {danger}; the on-file reply tells the reporter the "
                               "action taken seems appropriate and closes the case, which a "
                               "report of possible danger must not get")
        texts: list[str] = []
        changed: dict[str, object] = {}
        if already_sent(cc):
            texts.append("the on-file acknowledgement was already sent; not sent again")
        elif cc.msg.quiet:
            texts.append("imported mail: no acknowledgement sent")
        else:
            report = report_message(cc)
            if report is None:
                raise CommandError("the report itself is not on file; nothing sent")
            queued = queue_acknowledgement(cc.session, cc.app, cc.case, report,
                                           template=TEMPLATE, actor=cc.member.email)
            if queued is None:
                raise CommandError("the reporter's address cannot be written to; nothing sent")
            record_event(cc, EventKind.ON_FILE_ACKNOWLEDGED, outbox_message_id=queued)
            texts.append("the on-file acknowledgement was queued to the reporter")
            changed["acknowledgement"] = "on file"
        result = resolve_case(cc, SOURCE)
        texts.append(result.text)
        changed.update(result.changed)
        return CommandResult("; ".join(texts), changed=changed)
