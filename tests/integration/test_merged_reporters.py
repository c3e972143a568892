"""Merged reports keep a clock per reporter: answering one reporter does not answer another.

Two people report the same incident; a member merges the cases with `#merge`.
Each reporter is owed an acknowledgement and a first response, so each keeps
their own clocks (`bot.clocks.casefacts.ReporterClock`); the first reporter's
keep the case's plain keys, a further reporter's carry their participant id.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.clocks.digest import build_digests
from bot.clocks.reminders import run_reminders
from bot.core.app import App
from bot.store.models import Event
from tests.helpers import ALEX, CONDUCT, MAYA, REPORTER, make_app, make_mail
from tests.integration.clocks import (
    body_text,
    file_mail,
    mark_sent,
    moment,
    reminders_of,
    reply,
    report,
    set_clock,
)

KIM = "kim.reporter@mail.example"


@pytest.fixture
def app(tmp_path: Path) -> App:
    return make_app(f"sqlite:///{tmp_path / 'db.sqlite'}")


def _merged(app: App, *, ack_kim: bool = True) -> str:
    """Jo reports Monday 10:00, Kim at 11:00; Alex merges Kim's case into Jo's."""
    jo = report(app, moment(2, 10), "jo1@mail.example", sender=REPORTER,
                body="A speaker mocked attendees during the talk.")
    kim = report(app, moment(2, 11), "kim1@mail.example", sender=KIM,
                 body="The speaker made fun of people in the room.",
                 subject="Talk on Monday")
    mark_sent(app, jo, "acknowledgement", moment(2, 10, 1))
    if ack_kim:
        mark_sent(app, kim, "acknowledgement", moment(2, 11, 1))
    reply(app, moment(2, 12), ALEX, jo, "jo1@mail.example", "merge@example.org",
          tags=f"#merge {kim.replace(' ', '-')}", body="Same incident.")
    return jo


def _tick(app: App, when: object) -> None:
    set_clock(app, when)  # type: ignore[arg-type]
    run_reminders(app)


def test_answering_one_reporter_leaves_the_other_reminded(app: App) -> None:
    code = _merged(app)
    # Alex answers Jo only.
    reply(app, moment(3, 10), ALEX, code, "jo1@mail.example", "to-jo@example.org",
          to=(REPORTER,), cc=(CONDUCT,))
    _tick(app, moment(9, 10, 30))  # Jo's 7 days are up, Kim's not yet
    assert reminders_of(app, "first_response") == []
    _tick(app, moment(9, 11))
    [(ev, row)] = reminders_of(app, "first_response")
    assert ev.data["key"].startswith("first_response:")
    text = body_text(row)
    assert "more than one person" in text and "reached the group" in text
    assert KIM not in text and REPORTER not in text  # members are told which by time only
    with Session(app.engine) as session:
        [digest] = build_digests(session, app, moment(10, 8), only=[MAYA])
    [line] = digest.rows["awaiting_response"]
    assert line[0] == code and line[3] == "overdue"

    # Now Kim hears from a member: the clock closes, once.
    reply(app, moment(9, 12), ALEX, code, "kim1@mail.example", "to-kim@example.org",
          to=(KIM,), cc=(CONDUCT,))
    _tick(app, moment(10, 12))
    assert len(reminders_of(app, "first_response")) == 1
    with Session(app.engine) as session:
        cleared = session.exec(select(Event).where(Event.kind == "reminder_cleared")).all()
    assert [e.data["key"] for e in cleared] == [ev.data["key"]]


def test_nobody_but_an_authenticated_member_closes_a_reporters_clock(app: App) -> None:
    code = _merged(app)
    reply(app, moment(3, 10), ALEX, code, "jo1@mail.example", "to-jo@example.org",
          to=(REPORTER,), cc=(CONDUCT,))
    # Jo writes to Kim; Kim writes to herself; a forged Alex writes to Kim.
    for sender, mid, auth in ((REPORTER, "jo-to-kim@mail.example", None),
                              (KIM, "kim-self@mail.example", None),
                              (ALEX, "forged@example.org", False)):
        raw = make_mail(sender=sender, sender_name="", to=(KIM,), cc=(CONDUCT,),
                        subject=f"Re: Talk [CoC {code.replace(' ', '-')}]", body="hello",
                        message_id=mid, in_reply_to="kim1@mail.example",
                        references=["kim1@mail.example"], date=moment(4, 10),
                        authenticated=auth)
        assert file_mail(app, raw, moment(4, 10)) == code
    _tick(app, moment(9, 11))
    assert len(reminders_of(app, "first_response")) == 1


def test_an_unacknowledged_second_report_reminds_the_chair(app: App) -> None:
    code = _merged(app, ack_kim=False)  # Kim's acknowledgement never went out
    reply(app, moment(2, 13), ALEX, code, "jo1@mail.example", "to-jo@example.org",
          to=(REPORTER,), cc=(CONDUCT,))
    _tick(app, moment(3, 11))
    [(ev, row)] = reminders_of(app, "ack_overdue")
    assert ev.data["key"].startswith("ack_overdue:") and row.recipients == [MAYA]
    assert "has not been acknowledged to its reporter" in body_text(row)


def test_a_single_reporter_keeps_the_plain_keys(app: App) -> None:
    report(app, moment(2, 10), "solo@mail.example", sender=REPORTER)
    _tick(app, moment(9, 11))
    keys = sorted(ev.data["key"] for kind in ("ack_overdue", "first_response")
                  for ev, _row in reminders_of(app, kind))
    assert keys == ["ack_overdue", "first_response"]
