"""Indexed due-times: a tick skips cases with nothing due, and any change re-arms a case."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from bot.clocks.reminders import clock_key, run_reminders
from bot.core.app import App
from bot.store import clockindex
from bot.store.clockindex import CaseClock
from tests.helpers import ALEX, make_app, make_mail
from tests.integration.clocks import MON, file_mail, moment, outbox, report, set_clock


def rows(app: App) -> dict[int, CaseClock]:
    with Session(app.engine) as session:
        return {r.case_id: r for r in session.exec(select(CaseClock)).all()}


def test_not_due_cases_are_skipped_and_events_re_arm_them(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'ci.db'}", schedule={"digest_time": "23:59"})
    code = report(app, MON, "r1@mail.example")
    set_clock(app, moment(2, 12))
    run_reminders(app)
    [row] = rows(app).values()
    # The acknowledgement clock: due 24 hours after the report.
    assert row.next_check_at == moment(3, 10) and row.config_key == clock_key(app.config)
    with Session(app.engine) as session:
        assert clockindex.to_look_at(session, moment(2, 13), clock_key(app.config)) == []
        assert clockindex.to_look_at(session, moment(3, 10), clock_key(app.config)) == [
            row.case_id]
        assert clockindex.to_look_at(session, moment(3, 10, 1), clock_key(app.config)) == [
            row.case_id]
        assert clockindex.to_look_at(session, moment(2, 13), "other config") == [row.case_id]

    # A member's reply on the thread is an event: the case is looked at again.
    file_mail(app, make_mail(sender=ALEX, subject=f"Re: [CoC {code.replace(' ', '-')}] x",
                             in_reply_to="r1@mail.example", message_id="m1@example.org"),
              moment(2, 14))
    assert rows(app) == {}
    set_clock(app, moment(3, 10, 30))
    run_reminders(app)
    assert [r.recipients for r in outbox(app, "reminder")] == [["maya@example.org"]]
    # After the reminder the next look is one repeat interval later.
    set_clock(app, moment(3, 10, 31))
    run_reminders(app)
    [row] = rows(app).values()
    assert row.next_check_at == moment(4, 10, 30)
