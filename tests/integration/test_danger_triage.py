"""Danger triage on every path, the urgent clock, and an alarm nobody can silence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.clocks.reminders import run_reminders
from bot.clocks.scheduler import run_due
from bot.core.app import App
from tests.helpers import ALEX, MAYA, MEMBERS, SAM, file, make_mail
from tests.integration.gov import (
    NOW,
    REP,
    command,
    events,
    gov_app,
    last_transcript,
    mails,
    record,
    report,
    text_of,
)

THREAT = "He threatened to kill me after the meetup."
EVERYONE = {m["email"] for m in MEMBERS}
ORGANISER = ("A removed attendee was removed from the event on Friday. He came back tonight and "
             "threatened to kill one of our volunteers. We need the working group's help.")


def at(app: App, hours: float) -> None:
    app.clock = lambda: NOW + timedelta(hours=hours)


def urgent_cases(app: App) -> set[int | None]:
    return {r.case_id for r in mails(app, "urgent")}


def test_direct_report_raises_notice_and_the_four_hour_clock(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, THREAT)
    [notice] = mails(app, "urgent")
    assert set(notice.recipients) == EVERYONE
    assert "every 4 hours" in text_of(notice) and "kill" not in text_of(notice).lower()
    at(app, 3.9)
    run_reminders(app)
    assert not mails(app, "reminder")
    at(app, 4)
    run_reminders(app)
    [rem] = mails(app, "reminder")
    assert set(rem.recipients) == EVERYONE and "URGENT" in text_of(rem)
    # An authenticated member's #safety answers it: no more urgent reminders.
    command(app, code, "#safety yes", sender=SAM)
    at(app, 9)
    run_reminders(app)
    assert [e.data["reminder"] for e in events(app, "reminder_sent")] == ["urgent"]
    assert events(app, "reminder_cleared")[0].data["key"].startswith("urgent:")


def test_neutral_report_raises_nothing(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    report(app, "The moderator was curt with me in the forum.")
    at(app, 8)
    run_reminders(app)
    assert not mails(app, "urgent") and not events(app, "danger_detected")
    assert not [r for r in mails(app, "reminder") if "URGENT" in text_of(r)]


def test_members_own_first_hand_report(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    report(app, "At the sprint last night a man followed me home and I feel unsafe.",
           sender=SAM, subject="Something happened to me")
    assert events(app, "acknowledgement_suppressed")[0].data["rule"] == "member"
    [notice] = mails(app, "urgent")
    assert set(notice.recipients) == EVERYONE
    assert "No acknowledgement went" in text_of(notice)


def test_noreply_form_relay(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    report(app, "Form submission:\nWhat happened: " + THREAT, sender="noreply@forms.example",
           headers={"Reply-To": "jo.reporter@mail.example"})
    assert events(app, "acknowledgement_suppressed")[0].data["rule"] == "machine-sender"
    assert len(mails(app, "urgent")) == 1


def test_group_relay_with_list_headers(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    report(app, THREAT, sender="conduct+noreply@googlegroups.example",
           headers={"List-Id": "<conduct.example.org>", "Precedence": "list"})
    # The group rewrites From to the conduct address for DMARC-strict senders.
    report(app, THREAT, sender="conduct@example.org", sender_name="'Jo' via Conduct",
           subject="Second", headers={"X-Original-From": "jo@strict.example",
                                      "Reply-To": "jo@strict.example"})
    assert len(mails(app, "urgent")) == 2


def test_members_forward(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    body = ("Please see below.\n\n---------- Forwarded message ---------\n"
            "From: Pat Person <pat@person.example>\nSubject: help\n\n" + THREAT + "\n")
    out = file(app, make_mail(sender=MAYA, subject="Fwd: help", body=body,
                              message_id="fwd@example.org"))
    assert out.new_case
    assert events(app, "urgent_notice_queued")[0].data["path"] == "forward"


def test_acknowledgements_disabled(tmp_path: Path) -> None:
    app = gov_app(tmp_path, acknowledgement={"enabled": False})
    report(app, THREAT)
    assert not mails(app, "acknowledgement") and len(mails(app, "urgent")) == 1


def test_danger_in_a_later_stranger_mail_of_an_open_case(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, "Someone was rude to me.")
    parent = record(app, code)["message_ids"][0]
    file(app, make_mail(subject="Re: Report", body="Update: now he says he will kill me.",
                        in_reply_to=parent, references=[parent], message_id="u1@mail.example"))
    assert events(app, "urgent_notice_queued")[0].data["path"] == "reply"
    # Quoting the danger later does not raise it again once answered.
    command(app, code, "#safety no", sender=MAYA)
    at(app, 2)
    file(app, make_mail(subject="Re: Report", body="Thanks.\n\n> now he says he will kill me.",
                        in_reply_to=parent, references=[parent], message_id="u2@mail.example"))
    assert len(events(app, "danger_detected")) == 1


# ------------------------------------------------------------------ cannot be silenced


def test_forged_earlier_mail_from_the_reporter_does_not_silence_the_alarm(
        tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    report(app, "hello", subject="Forged first mail")  # opens the per-sender window
    at(app, 0.5)
    code = report(app, THREAT, subject="Real report")
    assert events(app, "acknowledgement_suppressed")[-1].data["rule"] == "per-sender-window"
    assert urgent_cases(app) == {record_case_id(app, code)}


def record_case_id(app: App, code: str) -> int:
    from sqlmodel import Session

    from bot.store.records import find_case

    with Session(app.engine) as session:
        case = find_case(session, code)
        assert case is not None and case.id is not None
        return case.id


def test_flood_merges_notices_into_one_summary_never_drops(tmp_path: Path) -> None:
    # A small acknowledgement cap stands in for the default 30 an hour: the flood
    # exhausts it, and the real report after it is not acknowledged.
    app = gov_app(tmp_path, acknowledgement={"global_cap_per_hour": 5})
    codes = [report(app, "They threatened to kill me too.", sender=f"flood{i}@bad.example")
             for i in range(12)]
    real = report(app, THREAT, subject="The real one")
    assert events(app, "acknowledgement_suppressed")[-1].data["rule"] == "global-cap"
    assert len(mails(app, "urgent")) == 10
    assert len(events(app, "urgent_notice_merged")) == 3
    at(app, 0.02)
    run_due(app)
    summaries = [r for r in mails(app, "urgent") if r.case_id is None]
    assert len(summaries) == len(MEMBERS)
    text = text_of(summaries[0])
    assert real in text and all(c in text for c in codes[10:])
    run_due(app)  # nothing is summarised twice
    assert len([r for r in mails(app, "urgent") if r.case_id is None]) == len(MEMBERS)
    # The flood goes on: the next summary waits ten minutes, then carries it.
    late = report(app, THREAT, sender="late@bad.example")
    run_due(app)
    assert len([r for r in mails(app, "urgent") if r.case_id is None]) == len(MEMBERS)
    at(app, 0.2)
    run_due(app)
    summaries = [r for r in mails(app, "urgent") if r.case_id is None]
    assert len(summaries) == 2 * len(MEMBERS) and late in text_of(summaries[-1])


def test_forged_safety_answer_does_not_stop_the_clock(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, THREAT)
    command(app, code, "#safety no", sender=MAYA, authenticated=False)
    at(app, 4)
    run_reminders(app)
    assert len(mails(app, "reminder")) == 1


def test_member_writing_to_the_reporter_answers_the_alarm(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, THREAT)
    at(app, 1)
    command(app, code, "", sender=ALEX, to=("jo.reporter@mail.example",),
            cc=("conduct@example.org",), body="We are on it; please call the police first.")
    at(app, 5)
    run_reminders(app)
    assert not [e for e in events(app, "reminder_sent") if e.data["reminder"] == "urgent"]


# ---------------------------------------------------------------------- the organiser


def test_organisers_death_threat_gets_neutral_ack_notice_and_never_on_file(
        tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, ORGANISER, sender=REP, subject="Removed attendee came back")
    [ack] = mails(app, "acknowledgement")
    assert "We'll discuss and get back to you" in text_of(ack)
    assert "seems appropriate" not in text_of(ack)
    assert len(mails(app, "urgent")) == 1
    command(app, code, "#onfile", sender=MAYA)
    assert "refused" in last_transcript(app, MAYA) and "danger" in last_transcript(app, MAYA)
    assert record(app, code)["status"] == "Ongoing"
    assert all("seems appropriate" not in text_of(r) for r in mails(app, "acknowledgement"))


def test_calm_organiser_report_closes_with_members_onfile(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, "An attendee made rude comments; he was asked to leave. For your records.",
                  sender=REP)
    assert events(app, "onfile_suggested")
    command(app, code, "#onfile", sender=SAM)
    texts = [text_of(r) for r in mails(app, "acknowledgement")]
    assert len(texts) == 2 and "seems appropriate" in texts[1]
    rec = record(app, code)
    assert rec["status"] == "Resolved" and rec["resolution_source"] == "Local Event Reps"
    at(app, 24 * 8)
    run_reminders(app)
    assert not mails(app, "reminder"), "resolving stopped the clocks"


def test_danger_in_an_attached_forward_or_a_text_attachment(tmp_path: Path) -> None:
    from email.message import EmailMessage

    from tests.helpers import auth_header

    app = gov_app(tmp_path)
    inner = EmailMessage()
    inner["From"] = "Pat Person <pat@person.example>"
    inner["To"] = "maya@example.org"
    inner["Subject"] = "help"
    inner["Message-ID"] = "<inner@person.example>"
    inner.set_content(THREAT)
    outer = EmailMessage()
    outer["Authentication-Results"] = auth_header("example.org")
    outer["From"] = MAYA
    outer["To"] = "conduct@example.org"
    outer["Subject"] = "Fwd: help"
    outer["Message-ID"] = "<attfwd@example.org>"
    outer.set_content("Forwarding the attached report.")
    outer.add_attachment(inner)
    assert file(app, outer.as_bytes()).new_case
    withfile = EmailMessage()
    withfile["From"] = "jo.reporter@mail.example"
    withfile["To"] = "conduct@example.org"
    withfile["Subject"] = "Report"
    withfile["Message-ID"] = "<att@mail.example>"
    withfile.set_content("Please see the chat log attached.")
    withfile.add_attachment("[22:10] him: I know where you live, I will kill you",
                            filename="chat.txt")
    assert file(app, withfile.as_bytes()).new_case
    assert len(events(app, "urgent_notice_queued")) == 2
