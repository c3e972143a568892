"""A draft nobody reviews is not forgotten: the other members are reminded.

The manual ("Communications"): "When drafting communications, have a second
working group member review for potentially identifying information before
sending."  A `#draft` waits `schedule.draft_review_hours` (24) for `#approve`
or `#revise`; then every member not shut out of the case but its author is
reminded, every `reminder_repeat_hours`, until a member answers.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.clocks.digest import build_digests
from bot.clocks.reminders import run_reminders
from bot.core.app import App
from bot.store.models import Event, Outbox
from tests.helpers import ALEX, MAYA, SAM, file, make_app, make_mail
from tests.integration.clocks import (
    body_text,
    moment,
    recuse,
    reminders_of,
    set_clock,
    update_case,
)
from tests.integration.test_drafts import CLEAN, PARTY, REPORT, _approve, _draft, _tag

FILED = moment(2, 11)  # Monday 11:00 UTC: the draft
DUE = moment(3, 11)  # 24 hours later, within working hours


@pytest.fixture
def app(tmp_path: Path) -> App:
    return make_app(f"sqlite:///{tmp_path / 'db.sqlite'}")


def _report(app: App, body: str = REPORT) -> str:
    set_clock(app, moment(2, 10))
    out = file(app, make_mail(subject="Behaviour at the sprint", body=body,
                              message_id="report@mail.example"))
    assert out.case_code is not None
    return out.case_code


def _draft_reminders(app: App) -> list[tuple[Event, Outbox]]:
    return reminders_of(app, "draft")


def _tick(app: App, when: object) -> None:
    set_clock(app, when)  # type: ignore[arg-type]
    run_reminders(app)


def test_reviewers_are_reminded_once_due_then_again_until_approved(app: App) -> None:
    code = _report(app)
    set_clock(app, FILED)
    _draft(app, code, CLEAN, "d1@example.org")
    _tick(app, moment(3, 10, 59))
    assert _draft_reminders(app) == []
    _tick(app, DUE)
    [(ev, row)] = _draft_reminders(app)
    # The author is never asked to review their own draft.
    assert row.recipients == [ALEX, SAM]
    text = body_text(row)
    assert "Maya Chen filed a draft" in text and "#approve" in text and "#revise" in text
    assert "second working group member review" in text  # the manual, quoted
    # Nothing of the draft itself: not its recipient, not its subject.
    assert PARTY not in text and "conduct at the sprint" not in text
    _tick(app, moment(3, 12))
    assert len(_draft_reminders(app)) == 1  # not before the repeat interval
    _tick(app, moment(4, 11))
    assert len(_draft_reminders(app)) == 2

    set_clock(app, moment(4, 12))
    _approve(app, code, "d1@example.org", ALEX, "a1@example.org")
    _tick(app, moment(5, 12))
    assert len(_draft_reminders(app)) == 2
    with Session(app.engine) as session:
        cleared = session.exec(select(Event).where(Event.kind == "reminder_cleared")).all()
    assert [e.data["key"] for e in cleared] == [ev.data["key"]]


def test_a_recused_member_is_not_asked_and_revise_closes_it(app: App) -> None:
    code = _report(app)
    recuse(app, code, SAM)
    set_clock(app, FILED)
    _draft(app, code, CLEAN, "d1@example.org")
    _tick(app, DUE)
    [(_ev, row)] = _draft_reminders(app)
    assert row.recipients == [ALEX]
    set_clock(app, moment(3, 12))
    file(app, make_mail(sender=ALEX, sender_name="Alex Smith",
                        subject=f"Re: Your conduct {_tag(code)} #revise soften the opening",
                        body="See note.", message_id="rv1@example.org",
                        in_reply_to="d1@example.org"))
    _tick(app, moment(5, 12))
    assert len(_draft_reminders(app)) == 1


def test_forgeries_and_strangers_cannot_silence_it(app: App) -> None:
    code = _report(app)
    set_clock(app, FILED)
    _draft(app, code, CLEAN, "d1@example.org")
    set_clock(app, moment(2, 15))
    # A forged member From (no authentication) and a stranger's #revise are not obeyed.
    file(app, make_mail(sender=ALEX, sender_name="Alex Smith", authenticated=False,
                        subject=f"Re: Your conduct {_tag(code)} #revise stop",
                        body="x", message_id="f1@example.org", in_reply_to="d1@example.org"))
    file(app, make_mail(sender="mallory@evil.example", sender_name="Mallory",
                        subject=f"Re: Your conduct {_tag(code)} #approve",
                        body="ok", message_id="f2@evil.example", in_reply_to="d1@example.org"))
    _tick(app, DUE)
    assert len(_draft_reminders(app)) == 1


def test_a_stranger_cannot_start_the_clock(app: App) -> None:
    code = _report(app)
    set_clock(app, FILED)
    file(app, make_mail(sender="mallory@evil.example", sender_name="Mallory",
                        subject=f"Re: x {_tag(code)} #draft", body=CLEAN,
                        message_id="s1@evil.example"))
    _tick(app, moment(4, 11))
    assert _draft_reminders(app) == []


def test_a_draft_from_imported_mail_starts_no_clock(app: App) -> None:
    code = _report(app)
    set_clock(app, FILED)
    file(app, make_mail(sender=MAYA, sender_name="Maya Chen",
                        subject=f"Your conduct {_tag(code)} #draft", body=CLEAN,
                        message_id="old@example.org"), backfill=True)
    _tick(app, moment(4, 11))
    assert _draft_reminders(app) == []


def test_resolved_case_still_reminds_and_the_digest_lists_it(app: App) -> None:
    # No danger words: nothing but the draft keeps a clock on this resolved case.
    code = _report(app, body="Pat Party kept interrupting people at the sprint.")
    set_clock(app, FILED)
    _draft(app, code, CLEAN, "d1@example.org")
    update_case(app, code, status="Resolved", resolution_date=date(2026, 11, 2),
                resolution_source="CoC WG")
    _tick(app, DUE)
    assert [row.recipients for _ev, row in _draft_reminders(app)] == [[ALEX, SAM]]
    with Session(app.engine) as session:
        # Two days on: nothing happened since the last digest, yet the draft still waits.
        [digest] = build_digests(session, app, moment(5, 8), only=[MAYA])
    assert (code, "a draft waits for a second member's review") in [
        (r[0], r[1]) for r in digest.rows["overdue"]]


def test_nobody_left_to_review_is_noted_once_per_interval(app: App) -> None:
    code = _report(app)
    recuse(app, code, ALEX)
    recuse(app, code, SAM)
    set_clock(app, FILED)
    _draft(app, code, CLEAN, "d1@example.org")
    _tick(app, DUE)
    _tick(app, moment(3, 11, 1))
    _tick(app, moment(3, 15))
    with Session(app.engine) as session:
        sent = session.exec(select(Event).where(Event.kind == "reminder_sent")).all()
    drafts = [e for e in sent if e.data.get("reminder") == "draft"]
    assert len(drafts) == 1 and drafts[0].data["to"] == [] and drafts[0].data["undeliverable"]
    assert _draft_reminders_mailed(app) == []
    _tick(app, moment(4, 11, 1))  # a repeat interval later: noted again
    with Session(app.engine) as session:
        sent = session.exec(select(Event).where(Event.kind == "reminder_sent")).all()
    assert len([e for e in sent if e.data.get("reminder") == "draft"]) == 2


def _draft_reminders_mailed(app: App) -> list[Outbox]:
    with Session(app.engine) as session:
        return [r for r in session.exec(select(Outbox).where(Outbox.kind == "reminder")).all()
                if "draft waits" in body_text(r)]
