"""Reminders on a real database (SQLite and PostgreSQL), driven by a frozen clock.

Each test files real mail through the pipeline at chosen moments (Monday
2 November 2026 is a Monday) and runs the reminder job at others, then looks
at the outbox rows and case events it left.
"""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any

import pytest

from bot.clocks.reminders import run_reminders
from bot.clocks.scheduler import run_due
from bot.core.app import App
from tests.helpers import ALEX, CONDUCT, MAYA, MEMBERS, REPORTER, SAM, make_app, make_mail
from tests.integration.clocks import (
    MON,
    body_text,
    case_row,
    events,
    file_mail,
    mark_sent,
    moment,
    outbox,
    recuse,
    reply,
    report,
    set_clock,
    update_case,
)

# Storage behaviour (transactions, claims, constraints): SQLite and PostgreSQL.
pytestmark = pytest.mark.storage

REPORT_TEXT = "The speaker at the sprint dinner kept mocking my accent in front of everyone."
NOON = 12
QUIET_DIGEST = {"digest_time": "23:59"}  # keep the digest out of run_due tests


def remind(app: App, when: Any) -> list[str]:
    """Run the reminder job at `when`; the recipients of each reminder it queued."""
    set_clock(app, when)
    before = {r.id for r in outbox(app, "reminder")}
    run_reminders(app)
    return [",".join(r.recipients) for r in outbox(app, "reminder") if r.id not in before]


@pytest.fixture
def app(db_url: str) -> App:
    return make_app(db_url, schedule=QUIET_DIGEST)


# --------------------------------------------------------------------- acknowledgement


def test_missing_acknowledgement_reminds_chair_once_per_interval(app: App) -> None:
    code = report(app, MON, "r1@mail.example", body=REPORT_TEXT)
    [ack] = outbox(app, "acknowledgement", code)
    assert ack.status == "queued"  # queued but never sent: the reporter has nothing yet

    assert remind(app, moment(2, 17)) == []  # Monday evening: not due
    assert remind(app, moment(3, 9, 59)) == []  # 23h59 after the report
    assert remind(app, moment(3, 10, 30)) == [MAYA]  # Tuesday after 10:00: the chair
    assert remind(app, moment(3, 10, 31)) == []  # once
    assert remind(app, moment(3, 17, 59)) == []  # not again before the repeat interval
    assert remind(app, moment(4, 10, 29)) == []
    assert remind(app, moment(4, 10, 30)) == [MAYA]  # 24 hours later, still unanswered

    [ev1, _ev2] = events(app, code, "reminder_sent")
    assert ev1.data["key"] == "ack_overdue" and ev1.data["to"] == [MAYA]
    assert ev1.at == moment(3, 10, 30)

    # The acknowledgement goes out: the clock is answered, never to remind again.
    mark_sent(app, code, "acknowledgement", moment(4, 11))
    assert remind(app, moment(5, 11)) == []
    assert remind(app, moment(6, 11)) == []
    [cleared] = events(app, code, "reminder_cleared")
    assert cleared.data["key"] == "ack_overdue"

    first = outbox(app, "reminder", code)[0]
    text = body_text(first)
    assert code in text and "ideally within a day" in text
    assert REPORTER not in first.raw.decode() and "mocking my accent" not in text
    assert first.recipients == [MAYA]


def test_acknowledgement_sent_in_time_means_no_reminder(app: App) -> None:
    code = report(app, MON, "r1@mail.example")
    mark_sent(app, code, "acknowledgement", MON + timedelta(minutes=1))
    for day in range(3, 7):
        assert remind(app, moment(day, 11)) == []
    assert events(app, code, "reminder_sent") == []


def test_suppressed_acknowledgement_reminds(db_url: str) -> None:
    app = make_app(db_url, schedule=QUIET_DIGEST, acknowledgement={"enabled": False})
    code = report(app, MON, "r1@mail.example")
    assert outbox(app, "acknowledgement", code) == []
    assert events(app, code, "acknowledgement_suppressed")
    assert remind(app, moment(3, 10, 1)) == [MAYA]


def test_member_writing_to_reporter_answers_the_acknowledgement_clock(app: App) -> None:
    code = report(app, MON, "r1@mail.example")
    reply(app, MON + timedelta(hours=2), ALEX, code, "r1@mail.example", "a1@example.org",
          to=(REPORTER,), cc=(CONDUCT,))
    assert remind(app, moment(3, 11)) == []


def test_forged_member_mail_answers_no_clock(app: App) -> None:
    """Anyone can put a member's address in From: only mail the MX vouches for counts."""
    code = report(app, MON, "r1@mail.example")
    mark_sent(app, code, "acknowledgement", MON)
    reply(app, moment(2, 11), SAM, code, "r1@mail.example", "s1@example.net",
          tags="#unilateral")
    forged = make_mail(sender=ALEX, sender_name="Alex Smith", authenticated=False,
                       to=(REPORTER,), cc=(CONDUCT,), subject="Re: Report",
                       message_id="f1@forged.example", in_reply_to="r1@mail.example",
                       references=["r1@mail.example"], date=moment(2, 12))
    assert file_mail(app, forged, moment(2, 12)) == code
    forged_sam = make_mail(sender=SAM, sender_name="", authenticated=False,
                           message_id="f2@forged.example", in_reply_to="s1@example.net",
                           references=["r1@mail.example", "s1@example.net"],
                           subject="Re: Report", body="All reported.", date=moment(2, 13))
    assert file_mail(app, forged_sam, moment(2, 13)) == code
    # The reporter has still heard from no member, and SAM has still reported nothing.
    assert sorted(remind(app, moment(9, 11))) == [MAYA, SAM]
    assert {e.data["reminder"] for e in events(app, code, "reminder_sent")} == {
        "first_response", "unilateral"}


# --------------------------------------------------------------------- working time


def test_nothing_on_a_weekend_unless_urgent(app: App) -> None:
    friday = moment(6, NOON)
    calm = report(app, friday, "calm@mail.example")
    urgent = report(app, friday, "urgent@mail.example", sender="other.reporter@mail.example")
    update_case(app, urgent, safety_risk="Yes")

    assert remind(app, moment(7, NOON)) == [MAYA]  # Saturday: both due, only urgent goes
    assert [e.data["key"] for e in events(app, urgent, "reminder_sent")] == ["ack_overdue"]
    assert remind(app, moment(8, NOON)) == [MAYA]  # Sunday: urgent repeats, calm waits
    assert events(app, calm, "reminder_sent") == []
    assert remind(app, moment(9, 8, 59)) == []  # Monday before working hours
    assert remind(app, moment(9, 9, 0)) == [MAYA]  # Monday 09:00: the calm case at last
    assert len(events(app, calm, "reminder_sent")) == 1


def test_danger_notice_makes_a_case_urgent(app: App) -> None:
    saturday = moment(7, 9)
    code = report(app, saturday, "d1@mail.example",
                  body="He threatened to kill me after the meetup and I feel unsafe.")
    assert outbox(app, "urgent", code), "the danger notice went to every member"
    everyone = ",".join(m["email"] for m in MEMBERS)
    # Saturday 13:00: the 4-hour urgent clock reminds every member, on a weekend.
    assert remind(app, moment(7, 13, 0)) == [everyone]
    assert remind(app, moment(7, 16, 59)) == []  # repeats every 4 hours, not sooner
    # Sunday, because it is urgent: the chair's reminder and the urgent clock again.
    assert sorted(remind(app, moment(8, 9, 30))) == sorted([MAYA, everyone])
    assert events(app, code, "reminder_sent")[0].data["urgent"] is True


def test_outside_working_hours_waits_in_the_configured_zone(db_url: str) -> None:
    app = make_app(db_url, schedule={**QUIET_DIGEST, "timezone": "America/New_York"})
    code = report(app, MON, "r1@mail.example")  # 05:00 in New York
    # Tuesday 10:30 UTC is 05:30 in New York: before working hours there.
    assert remind(app, moment(3, 10, 30)) == []
    assert remind(app, moment(3, 14, 0)) == [MAYA]  # 09:00 in New York
    assert len(events(app, code, "reminder_sent")) == 1


# --------------------------------------------------------------------- first response, progress


def test_first_response_after_seven_days_then_progress_every_fourteen(app: App) -> None:
    code = report(app, MON, "r1@mail.example", body=REPORT_TEXT)
    mark_sent(app, code, "acknowledgement", MON + timedelta(minutes=1))
    # A member writing only to the group is not a response to the reporter.
    reply(app, moment(3, 9), SAM, code, "r1@mail.example", "s1@example.net",
          body="I know the speaker; let us discuss.")

    assert remind(app, moment(9, 9, 59)) == []  # 6 days 23 hours
    assert remind(app, moment(9, 10, 0)) == [MAYA]  # no point of contact yet: the chair
    text = body_text(outbox(app, "reminder", code)[-1])
    assert "#contact" in text and "keep the reporter informed" in text

    update_case(app, code, point_of_contact=ALEX)
    assert remind(app, moment(9, 15)) == []  # repeat interval holds across the change
    assert remind(app, moment(10, 10, 0)) == [ALEX]  # the point of contact now

    # ALEX writes to the reporter (conduct in Cc): the first-response clock is answered.
    reply(app, moment(10, 11), ALEX, code, "r1@mail.example", "a1@example.org",
          to=(REPORTER,), cc=(CONDUCT,))
    assert remind(app, moment(11, 11)) == []
    assert [e.data["key"] for e in events(app, code, "reminder_cleared")] == ["first_response"]

    # Then the progress clock: 14 days without mail to the reporter.
    assert remind(app, moment(24, 10, 59)) == []
    assert remind(app, moment(24, 11, 0)) == [ALEX]
    [ev] = [e for e in events(app, code, "reminder_sent") if e.data["reminder"] == "progress"]
    assert ev.data["key"].startswith("progress:")
    assert "progress update" in body_text(outbox(app, "reminder", code)[-1])
    assert remind(app, moment(24, 17)) == []

    # A progress update answers it and starts the next fourteen days.
    reply(app, moment(25, 9), ALEX, code, "a1@example.org", "a2@example.org",
          to=(REPORTER,), cc=(CONDUCT,))
    assert remind(app, moment(25, 10)) == []
    assert remind(app, moment(8, 10, month=12)) == []  # 13 days later
    assert remind(app, moment(9, 9, month=12)) == [ALEX]  # 14 days later

    for row in outbox(app, "reminder", code):
        assert REPORTER not in row.raw.decode()
        assert "mocking my accent" not in body_text(row)


def test_resolved_case_gets_no_response_reminders(app: App) -> None:
    code = report(app, MON, "r1@mail.example")
    update_case(app, code, status="Resolved", resolution_date=date(2026, 11, 2))
    assert remind(app, moment(3, 11)) == []
    assert remind(app, moment(10, 11)) == []


def test_backfilled_report_gets_no_acknowledgement_or_response_reminders(app: App) -> None:
    code = report(app, MON - timedelta(days=400), "old@mail.example", backfill=True)
    assert remind(app, moment(3, 11)) == []
    assert remind(app, moment(20, 11)) == []
    assert events(app, code, "reminder_sent") == []


# --------------------------------------------------------------------- #unilateral, #review


def test_unilateral_clock_reminds_the_member_until_they_report(app: App) -> None:
    code = report(app, MON, "r1@mail.example")
    mark_sent(app, code, "acknowledgement", MON)
    reply(app, moment(2, 11), ALEX, code, "r1@mail.example", "a1@example.org",
          to=(REPORTER,), cc=(CONDUCT,))  # first response, so only the unilateral clock runs
    reply(app, moment(2, 20), SAM, code, "r1@mail.example", "s1@example.net",
          tags="#unilateral")
    [ev] = events(app, code, "unilateral_action")
    assert ev.actor == SAM and ev.at == moment(2, 20)
    assert [r.recipients for r in outbox(app, "transcript", code)] == [[SAM]]

    assert remind(app, moment(3, 19, 59)) == []  # within the 24 hours (and after hours)
    assert remind(app, moment(3, 20)) == []  # due, but 20:00 is after working hours
    assert remind(app, moment(4, 9)) == [SAM]  # next working morning: to the member only
    text = body_text(outbox(app, "reminder", code)[-1])
    assert "within 24 hours" in text
    assert remind(app, moment(4, 12)) == []
    assert remind(app, moment(5, 9)) == [SAM]

    # SAM reports to the group in the thread: the clock stops.
    reply(app, moment(5, 10), SAM, code, "s1@example.net", "s2@example.net",
          body="Yesterday I removed the account from the forum; please review.")
    assert remind(app, moment(6, 10)) == []
    assert [e.data["reminder"] for e in events(app, code, "reminder_cleared")] == ["unilateral"]


def test_review_date_reminds_the_point_of_contact_on_that_date(app: App) -> None:
    code = report(app, MON, "r1@mail.example")
    mark_sent(app, code, "acknowledgement", MON)
    reply(app, moment(2, 11), ALEX, code, "r1@mail.example", "a1@example.org",
          to=(REPORTER,), cc=(CONDUCT,), tags="#contact #resolve")
    assert case_row(app, code).point_of_contact == ALEX
    reply(app, moment(2, 12), ALEX, code, "a1@example.org", "a2@example.org",
          tags="#review 2026-11-20")
    assert case_row(app, code).review_date == date(2026, 11, 20)

    assert remind(app, moment(19, 12)) == []
    assert remind(app, moment(20, 8, 59)) == []  # the date, before working hours
    assert remind(app, moment(20, 9)) == [ALEX]
    assert "2026-11-20" in body_text(outbox(app, "reminder", code)[-1])
    assert remind(app, moment(20, 17)) == []
    assert remind(app, moment(23, 9)) == [ALEX]  # Monday: still not reviewed

    reply(app, moment(23, 10), ALEX, code, "a2@example.org", "a3@example.org",
          tags="#review done")
    assert case_row(app, code).review_date is None
    assert remind(app, moment(24, 9)) == []


def test_review_command_refuses_a_past_date(app: App) -> None:
    code = report(app, MON, "r1@mail.example")
    reply(app, moment(2, 12), ALEX, code, "r1@mail.example", "a1@example.org",
          tags="#review 2026-10-01")
    assert case_row(app, code).review_date is None
    assert events(app, code, "review_date_set") == []


# --------------------------------------------------------------------- recusal


def test_recused_chair_reminder_goes_to_the_other_chair(db_url: str) -> None:
    members = [*MEMBERS, {"name": "Kim Lee", "email": "kim@example.org", "role": "chair"}]
    app = make_app(db_url, schedule=QUIET_DIGEST, members=members)
    code = report(app, MON, "r1@mail.example")
    assert remind(app, moment(3, 11)) == [f"{MAYA},kim@example.org"]
    other = report(app, MON, "r2@mail.example", sender="second@mail.example")
    recuse(app, other, "maya.chen@example.org")  # recused under her alias
    assert remind(app, moment(3, 12)) == ["kim@example.org"]
    assert code != other


def test_recused_only_chair_reminder_goes_to_every_other_member(app: App) -> None:
    code = report(app, MON, "r1@mail.example")
    recuse(app, code, MAYA)
    assert remind(app, moment(3, 11)) == [f"{ALEX},{SAM}"]


def test_recused_point_of_contact_never_reminded(app: App) -> None:
    code = report(app, MON, "r1@mail.example")
    mark_sent(app, code, "acknowledgement", MON)
    update_case(app, code, point_of_contact=SAM)
    recuse(app, code, SAM)
    assert remind(app, moment(9, 11)) == [MAYA]
    assert "recused" in body_text(outbox(app, "reminder", code)[-1])


# --------------------------------------------------------------------- restarts, instances


def test_run_due_twice_sends_nothing_twice(app: App) -> None:
    code = report(app, MON, "r1@mail.example")
    set_clock(app, moment(3, 11))
    assert run_due(app) == 1
    assert run_due(app) == 0
    again = make_app(str(app.engine.url.render_as_string(hide_password=False)),
                     clock=moment(3, 11, 5), schedule=QUIET_DIGEST)  # a "restarted" bot
    assert run_due(again) == 0
    assert len(events(app, code, "reminder_sent")) == 1


def test_two_instances_at_once_send_one_reminder(app: App) -> None:
    for i in range(4):
        report(app, MON, f"r{i}@mail.example", sender=f"reporter{i}@mail.example")
    url = app.engine.url.render_as_string(hide_password=False)
    apps = [make_app(url, clock=moment(3, 11), schedule=QUIET_DIGEST) for _ in range(2)]
    counts: list[int] = []
    barrier = threading.Barrier(2)

    def go(one: App) -> None:
        barrier.wait()
        counts.append(run_reminders(one))

    threads = [threading.Thread(target=go, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(counts) == 4
    assert len(outbox(app, "reminder")) == 4
