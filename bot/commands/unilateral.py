"""`#unilateral`: a member acted alone on an ongoing situation; start the 24-hour clock."""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlmodel import select

from bot.commands._common import moment
from bot.commands.base import Command, CommandContext, CommandResult, command
from bot.core.clock import format_moment
from bot.core.events import EventKind
from bot.governance.proposals import open_proposal
from bot.store.models import Event
from bot.store.records import add_event, case_events

NOTE_MAX = 300


@command
class Unilateral(Command):
    """#unilateral [what you did] - you acted alone on an ongoing situation.

    The manual ("Acting Unilaterally"): any member may act immediately to end an
    ongoing situation or protect safety, but "they must report their actions to
    the working group for review within 24 hours". This starts that clock:
    write to the case thread (to the conduct address) with what you did and
    why; your next message in the thread stops the clock. Until then you get a
    reminder once it has run out. An optional short note is kept in the case
    history.
    """

    name = "unilateral"

    def run(self, cc: CommandContext) -> CommandResult:
        """Record the unilateral action and when the report to the group is due."""
        session, app = cc.session, cc.app
        message_id = cc.msg.pm.message_id
        hours = app.config.schedule.unilateral_report_hours
        if message_id:
            # The same message filed again (replay) must not start a second clock.
            seen = session.exec(select(Event.id).where(
                Event.case_id == cc.case.id, Event.kind == EventKind.UNILATERAL_ACTION,
                Event.message_id == message_id)).first()
            if seen is not None:
                return CommandResult("already recorded for this message; nothing changed")
        now = moment(cc).astimezone(UTC)
        due = now + timedelta(hours=hours)
        note = " ".join(cc.args.split())[:NOTE_MAX]
        extra: dict[str, object] = {"note": note} if note else {}
        if cc.msg.quiet:
            # Imported history: recorded, but no clock is started for the past.
            extra["backfill"] = True
        add_event(session, cc.case, EventKind.UNILATERAL_ACTION, actor=cc.member.email,
                  message_id=message_id, at=now, due=due.isoformat(), **extra)
        if cc.msg.quiet:
            return CommandResult("unilateral action recorded (imported; no reminder)")
        when = format_moment(due, app.config.schedule.zone)
        session.flush()
        pending = open_proposal(case_events(session, cc.case))
        shown = f"; it is shown in the tally of open proposal #{pending.id}" if pending else ""
        return CommandResult(
            f"unilateral action recorded; report it to the group in this thread by {when} "
            f"(your next message here stops the clock){shown}",
            changed={"unilateral_report_due": due.isoformat()},
        )
