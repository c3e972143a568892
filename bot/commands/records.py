"""`#records`: the records export (no identities) mailed to the member who asked."""

from __future__ import annotations

from bot.commands._common import record_event, today
from bot.commands.base import Command, CommandContext, CommandResult, command
from bot.core.events import EventKind
from bot.outbound.outbox import queue_mail
from bot.records.export import record_rows, to_csv
from bot.records.mailing import attach
from bot.records.onboarding import awaiting_statement, visible_cases


@command
class Records(Command):
    """#records - mail me the records spreadsheet as CSV (to you alone).

    The manual's ten columns, one row per reported person, code names only:
    no real names (those are in the restricted identity key). Cases you are
    recused or excluded from are left out.
    """

    name = "records"
    allowed_when_recused = True

    def run(self, cc: CommandContext) -> CommandResult:
        """Queue the export to the member."""
        if awaiting_statement(cc.session, cc.member.email):
            return CommandResult("not sent: first answer the onboarding mail with "
                                 "#conflict CODE... or #noconflict", ok=False)
        cases = visible_cases(cc.session, cc.app.config, cc.member)
        rows = record_rows(cc.session, cc.app.config.schedule.zone, cases)
        data = to_csv(rows).encode("utf-8")
        day = today(cc).isoformat()
        row = queue_mail(cc.session, cc.app, kind="records", template="records_export",
                         to=[cc.member.email], context={"member_name": cc.member.name,
                                                         "rows": len(rows), "day": day})
        attach(row, data, filename=f"coc-records-{day}.csv", maintype="text", subtype="csv")
        cc.session.add(row)
        record_event(cc, EventKind.RECORDS_SENT, rows=len(rows), to=cc.member.email)
        return CommandResult(f"the records ({len(rows)} rows) were mailed to you alone")
