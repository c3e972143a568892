"""Acknowledgements through the real pipeline: when to send, when not, and what they say."""

from __future__ import annotations

import email
import email.policy
import mailbox
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.core.app import App
from bot.intake.importer import import_path
from bot.mail.msgids import own_case_id
from bot.store.codenames import subject_tag
from bot.store.db import session_scope
from bot.store.models import Case, Event, InboundMessage, Outbox, Quarantine
from tests.helpers import ALEX, CONDUCT, MAYA, MEMBERS, REPORTER, SAM, file, make_app, make_mail

T0 = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
REP = "organiser@djangocon.example"
WITNESS = "witness@elsewhere.example"
ACCUSED = "mallory@bad.example"
SECRET_TEXT = "Zanzibar-9173 Mallory shouted at the sprint table"
ACK_SUBJECT = "Your report to the Django Code of Conduct Working Group"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def build_app(db_url: str, clock: Clock, **sections: Any) -> App:
    sections.setdefault("local_representatives",
                        [{"name": "Riley Organiser", "email": REP, "programme": "DjangoCon"}])
    app = make_app(db_url, **sections)
    app.clock = clock
    return app


@pytest.fixture
def app(db_url: str, clock: Clock) -> App:
    return build_app(db_url, clock)



def acks(app: App) -> list[Outbox]:
    with Session(app.engine) as session:
        rows = session.exec(select(Outbox).where(Outbox.kind == "acknowledgement")
                            .order_by(col(Outbox.id))).all()
        return list(rows)


def outbox(app: App) -> list[Outbox]:
    with Session(app.engine) as session:
        return list(session.exec(select(Outbox).order_by(col(Outbox.id))).all())


def decisions(app: App) -> list[tuple[str, dict[str, Any]]]:
    with Session(app.engine) as session:
        rows = session.exec(select(Event).where(col(Event.kind).in_(
            ["acknowledgement_queued", "acknowledgement_suppressed"])).order_by(col(Event.id)))
        return [(e.kind, e.data) for e in rows]


def parsed(row: Outbox) -> EmailMessage:
    msg = email.message_from_bytes(row.raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def body_of(row: Outbox) -> str:
    part = parsed(row).get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def case_of(app: App, code: str | None) -> Case:
    with Session(app.engine) as session:
        case = session.exec(select(Case).where(Case.code == code)).one()
        session.expunge(case)
        return case


def assert_suppressed(app: App, rule: str) -> None:
    assert acks(app) == []
    [(kind, data)] = decisions(app)
    assert kind == "acknowledgement_suppressed"
    assert data["rule"] == rule, data
    assert data["reason"]


# --------------------------------------------------------------------------- sending


def test_new_report_gets_one_acknowledgement_with_reply_headers(app: App) -> None:
    raw = make_mail(message_id="r1@mail.example", subject="Report about the forum",
                    references=["earlier@mail.example"])
    out = file(app, raw)
    [ack] = acks(app)
    msg = parsed(ack)
    case = case_of(app, out.case_code)
    assert msg["From"] == f"Django Code of Conduct Working Group <{CONDUCT}>"
    assert msg["To"] == REPORTER
    assert msg["Cc"] == CONDUCT
    assert msg["In-Reply-To"] == "<r1@mail.example>"
    assert msg["References"] == "<earlier@mail.example> <r1@mail.example>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Subject"] == ACK_SUBJECT
    assert own_case_id(app.secret, ack.message_id) == case.id
    assert msg["Message-ID"] == f"<{ack.message_id}>"
    assert ack.recipients == [REPORTER, CONDUCT]
    assert ack.status == "queued"
    [(kind, data)] = decisions(app)
    assert kind == "acknowledgement_queued" and data["template"] == "ack_decision_needed"
    text = body_of(ack)
    # First name only; the manual's thanks; the reporting guide's promises.
    assert text.startswith("Hi Jo,\n")
    assert "Thank you so much for reporting this issue" in text
    assert "automatic confirmation" in text and "will follow up with you personally" in text
    assert "within one week" in text and "confidential" in text
    assert "https://www.djangoproject.com/foundation/teams/#code-of-conduct-team" in text
    assert "We'll discuss and get back to you with the outcome" in text
    assert text.rstrip().endswith("Regards,\nDSF Code of Conduct Working Group")
    assert "law enforcement" not in text and "emergency" not in text


def test_later_replies_get_no_acknowledgement(app: App) -> None:
    file(app, make_mail(message_id="r1@mail.example"))
    file(app, make_mail(message_id="r2@mail.example", in_reply_to="r1@mail.example",
                        subject="Re: Report"))
    assert len(acks(app)) == 1
    assert len(decisions(app)) == 1


def test_reporter_without_display_name_is_greeted_plainly(app: App) -> None:
    file(app, make_mail(sender_name=""))
    assert body_of(acks(app)[0]).startswith("Hi,\n\nThank you")


def test_acknowledgement_names_no_one_and_quotes_nothing(app: App) -> None:
    raw = make_mail(subject="Incident at the sprint", cc=[WITNESS],
                    body=f"{SECRET_TEXT}.\nHis address is {ACCUSED}; {WITNESS} saw it.\n"
                         f"Call me on +44 7700 900123.\n")
    file(app, raw)
    [ack] = acks(app)
    msg = parsed(ack)
    body = body_of(ack)
    # No address at all in the body; in the headers only the reporter and the group.
    assert "@" not in body
    header_block = ack.raw.decode("ascii").split("\r\n\r\n", 1)[0]
    address_headers = "\n".join(f"{k}: {v}" for k, v in msg.items()
                                if k.lower() not in ("message-id", "in-reply-to", "references"))
    addresses = set(re.findall(r"[\w.+-]+@[\w.-]+", address_headers))
    assert "@" not in header_block.split("Message-ID:")[0].replace(CONDUCT, "").replace(
        REPORTER, "")
    domain = CONDUCT.split("@")[1]
    assert {a for a in addresses if not a.endswith(f"@{domain}")} == {REPORTER}
    assert all(a in (CONDUCT, REPORTER) or a.startswith("cocbot.") for a in addresses)
    assert ack.recipients == [REPORTER, CONDUCT]
    for fragment in ("Zanzibar", "Mallory", "sprint table", "7700", "witness", "saw it"):
        assert fragment.lower() not in ack.raw.decode("ascii").lower()
    # Nothing is carried over, not even the subject line or the code name.
    assert msg["Subject"] == ACK_SUBJECT


def test_crlf_subject_gives_clean_acknowledgement_and_no_bcc(app: App) -> None:
    raw = make_mail(subject="placeholder")
    raw = raw.replace(b"Subject: placeholder",
                      b"Subject: =?utf-8?q?x=0D=0ABcc:_attacker@example.com?=")
    assert b"=0D=0ABcc" in raw
    out = file(app, raw)
    assert out.status == "filed"
    [ack] = acks(app)
    msg = parsed(ack)
    assert msg["Bcc"] is None
    assert ack.recipients == [REPORTER, CONDUCT]
    names = [k.lower() for k in msg]
    assert names == ["from", "to", "cc", "subject", "date", "message-id", "in-reply-to",
                     "references", "auto-submitted", "x-auto-response-suppress",
                     "mime-version", "content-type", "content-transfer-encoding"]
    subject = msg["Subject"]
    assert "\r" not in subject and "\n" not in subject
    assert subject == ACK_SUBJECT and subject_tag(out.case_code or "") not in subject
    header_block = ack.raw.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"^bcc:", header_block, re.IGNORECASE | re.MULTILINE)


def test_crlf_in_display_name_cannot_add_a_header(app: App) -> None:
    raw = make_mail(sender_name="placeholder")
    raw = raw.replace(b"From: placeholder", b"From: =?utf-8?q?Jo=0D=0A=0D=0AX-Evil_Pwned?=")
    file(app, raw)
    [ack] = acks(app)
    msg = parsed(ack)
    assert msg["X-Evil"] is None and msg["To"] == REPORTER
    # The name is not a plain name, so the greeting does without it.
    assert body_of(ack).startswith("Hi,\n\nThank you")


def test_display_name_that_hides_a_header_gets_nothing(app: App) -> None:
    raw = make_mail(sender_name="placeholder")
    raw = raw.replace(b"From: placeholder",
                      b"From: =?utf-8?q?Jo=0D=0ABcc:_attacker@example.com?=")
    file(app, raw)
    # The parser refuses this From; whatever happens, nothing goes to the attacker.
    for row in outbox(app):
        assert b"attacker" not in row.raw and parsed(row)["Bcc"] is None


# --------------------------------------------------------------------------- when not to send


@pytest.mark.parametrize("headers, rule", [
    ({"Auto-Submitted": "auto-replied"}, "auto-submitted"),
    ({"Auto-Submitted": "auto-generated"}, "auto-submitted"),
    ({"Auto-Submitted": "auto-notified; owner-email=x@y.example"}, "auto-submitted"),
    ({"Precedence": "bulk"}, "precedence-bulk"),
    ({"Precedence": "junk"}, "precedence-bulk"),
    ({"Precedence": "list"}, "precedence-bulk"),
    ({"List-Id": "Django users <django-users.googlegroups.com>"}, "mailing-list"),
    ({"X-Auto-Response-Suppress": "OOF, AutoReply"}, "auto-response-suppress"),
    ({"Return-Path": "<>"}, "machine-sender"),
    ({"Return-Path": "<MAILER-DAEMON@mx.mail.example>"}, "machine-sender"),
    ({"Return-Path": "<postmaster@mail.example>"}, "machine-sender"),
    ({"Return-Path": "<noreply@mail.example>"}, "machine-sender"),
    ({"X-Autoreply": "yes"}, "out-of-office"),
    ({"X-Autorespond": "yes"}, "out-of-office"),
    ({"X-Spam-Flag": "YES"}, None),
])
def test_header_triggers_suppress(app: App, headers: dict[str, str], rule: str | None) -> None:
    out = file(app, make_mail(headers=headers))
    if rule is None:
        # Spam never reaches the handlers: the pipeline quarantines it.
        assert out.status == "quarantined"
        with Session(app.engine) as session:
            [q] = session.exec(select(Quarantine)).all()
            assert q.kind == "spam"
            assert session.exec(select(Case)).all() == []
        assert acks(app) == [] and decisions(app) == []
        return
    assert_suppressed(app, rule)


def test_auto_submitted_no_is_a_person(app: App) -> None:
    file(app, make_mail(headers={"Auto-Submitted": "no"}))
    assert len(acks(app)) == 1


@pytest.mark.parametrize("sender", [
    "MAILER-DAEMON@mx.mail.example", "postmaster@mail.example", "noreply@mail.example",
    "no-reply@mail.example", "do-not-reply@mail.example",
])
def test_machine_from_suppresses(app: App, sender: str) -> None:
    file(app, make_mail(sender=sender, sender_name=""))
    assert_suppressed(app, "machine-sender")


def test_empty_from_suppresses(app: App) -> None:
    raw = make_mail(sender="placeholder@mail.example", sender_name="")
    raw = raw.replace(b"From: placeholder@mail.example", b"From: <>")
    file(app, raw)
    assert_suppressed(app, "machine-sender")


def test_delivery_status_notification_suppresses(app: App) -> None:
    dsn = (
        "From: Mail Delivery System <mail-system@mx.mail.example>\r\n"
        f"To: {CONDUCT}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn1@mx.mail.example>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
        "\r\n--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.mail.example\r\n\r\n"
        "Final-Recipient: rfc822; someone@mail.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "\r\n--b--\r\n"
    ).encode()
    file(app, dsn)
    assert_suppressed(app, "delivery-status")


@pytest.mark.parametrize("subject", [
    "Out of Office: Report",
    "Automatic reply: Report",
    "Autoreply: Report",
    "Abwesenheitsnotiz: Report",
    "=?utf-8?q?R=C3=A9ponse_automatique_:_Report?=",
    "I am on vacation",
])
def test_out_of_office_subjects_suppress(app: App, subject: str) -> None:
    raw = make_mail(subject="placeholder").replace(b"Subject: placeholder",
                                                  f"Subject: {subject}".encode())
    file(app, raw)
    assert_suppressed(app, "out-of-office")


def test_mail_from_the_conduct_address_is_not_acknowledged(app: App) -> None:
    file(app, make_mail(sender=CONDUCT, sender_name="Conduct", to=[CONDUCT]))
    assert_suppressed(app, "own-mail")


def test_the_bots_own_copy_is_filed_as_sent_mail(app: App) -> None:
    file(app, make_mail(message_id="r1@mail.example"))
    [ack] = acks(app)
    out = file(app, ack.raw)
    assert out.status == "filed" and not out.new_case
    with Session(app.engine) as session:
        copy = session.exec(select(InboundMessage).where(
            InboundMessage.message_id == ack.message_id)).one()
        assert copy.kind == "own"
        assert len(session.exec(select(Case)).all()) == 1
    assert len(acks(app)) == 1


def test_member_mail_is_not_acknowledged(app: App) -> None:
    file(app, make_mail(sender=ALEX, sender_name="Alex Smith", subject="A question"))
    assert_suppressed(app, "member")


def test_member_alias_is_not_acknowledged(app: App) -> None:
    file(app, make_mail(sender="maya.chen@example.org", sender_name="Maya",
                        authenticated=True))
    assert_suppressed(app, "member")


def test_report_forwarded_by_member_is_not_acknowledged(app: App) -> None:
    inner = make_mail(message_id="orig@mail.example", body=SECRET_TEXT)
    fwd = EmailMessage()
    fwd["From"] = f"Sam Jones <{SAM}>"
    fwd["To"] = CONDUCT
    fwd["Subject"] = "Fwd: Report about behaviour in the forum"
    fwd["Message-ID"] = "<fwd1@example.net>"
    fwd["Date"] = email.utils.format_datetime(T0)
    fwd["Authentication-Results"] = ("mx.test.example; dkim=pass header.d=example.net; "
                                     "dmarc=pass header.from=example.net")
    fwd.set_content("Forwarding this one; I will reply to them.")
    fwd.add_attachment(email.message_from_bytes(inner, policy=email.policy.default))
    out = file(app, fwd.as_bytes())
    assert out.new_case
    assert acks(app) == []
    [(kind, data)] = decisions(app)
    assert kind == "acknowledgement_suppressed" and data["rule"] == "forwarded-report"


# --------------------------------------------------------------------------- limits


@pytest.mark.storage
def test_hundred_reports_from_one_sender_in_an_hour_get_one_acknowledgement(
    app: App, clock: Clock
) -> None:
    for i in range(100):
        clock.now = T0 + timedelta(seconds=30 * i)
        sender = REPORTER if i % 2 else REPORTER.replace("@", f"+{i}@").upper()
        file(app, make_mail(sender=sender, subject=f"Report number {i}"))
    assert len(acks(app)) == 1
    kinds = [k for k, _ in decisions(app)]
    assert kinds.count("acknowledgement_queued") == 1
    assert kinds.count("acknowledgement_suppressed") == 99
    assert {d["rule"] for k, d in decisions(app) if k == "acknowledgement_suppressed"} == {
        "per-sender-window"}
    # After the window, the same sender is acknowledged again.
    clock.now = T0 + timedelta(minutes=61)
    file(app, make_mail(subject="Another, later report"))
    assert len(acks(app)) == 2


@pytest.mark.storage
def test_global_cap_per_hour(db_url: str, clock: Clock) -> None:
    app = build_app(db_url, clock, acknowledgement={"global_cap_per_hour": 3})
    for i in range(5):
        file(app, make_mail(sender=f"person{i}@mail.example"))
    assert len(acks(app)) == 3
    suppressed = [d for k, d in decisions(app) if k == "acknowledgement_suppressed"]
    assert [d["rule"] for d in suppressed] == ["global-cap", "global-cap"]
    clock.now = T0 + timedelta(minutes=61)
    file(app, make_mail(sender="person9@mail.example"))
    assert len(acks(app)) == 4


def test_suppression_is_in_the_case_history(app: App) -> None:
    out = file(app, make_mail(headers={"Precedence": "bulk"}))
    case = case_of(app, out.case_code)
    with Session(app.engine) as session:
        [ev] = session.exec(select(Event).where(
            Event.case_id == case.id, Event.kind == "acknowledgement_suppressed")).all()
    assert ev.data["rule"] == "precedence-bulk"
    assert "bulk" in ev.data["reason"]


def test_disabled_acknowledgements(db_url: str, clock: Clock) -> None:
    app = build_app(db_url, clock, acknowledgement={"enabled": False})
    file(app, make_mail())
    assert_suppressed(app, "disabled")


@pytest.mark.parametrize("responder", ["threads", "strips-threading", "strips-everything"])
def test_ping_pong_with_an_auto_responder_stops_after_one_reply(
    app: App, clock: Clock, responder: str
) -> None:
    """A naive auto-responder (no Auto-Submitted, no Precedence) answers every mail."""
    file(app, make_mail(sender="robot@helpdesk.example", sender_name="Helpdesk",
                        subject="Ticket opened", message_id="t0@helpdesk.example"))
    for i in range(1, 6):
        clock.now += timedelta(minutes=1)
        latest = outbox(app)[-1]
        ours = parsed(latest)
        their_subject = f"Re: {ours['Subject']}"
        if responder == "strips-everything":
            their_subject = "Your ticket has been received"
        file(app, make_mail(
            sender="robot@helpdesk.example", sender_name="Helpdesk",
            subject=their_subject, message_id=f"t{i}@helpdesk.example",
            in_reply_to=latest.message_id if responder == "threads" else None,
            body="Thank you for contacting the helpdesk. A ticket was created."))
    assert len(acks(app)) <= 1
    assert len(outbox(app)) <= 1


# --------------------------------------------------------------------------- content


def test_local_representative_saying_action_was_taken_gets_neutral_ack_and_onfile_hint(
        app: App) -> None:
    """Closing with the on-file text is a member's decision (#onfile), not a keyword match."""
    file(app, make_mail(sender=REP, sender_name="Riley Organiser",
                        subject="Incident at DjangoCon",
                        body="An attendee made rude comments. Action was taken: the attendee "
                             "was asked to leave. For your records."))
    [ack] = acks(app)
    text = body_of(ack)
    assert "We'll discuss and get back to you" in text
    assert "seems appropriate" not in text
    [(_kind, data)] = decisions(app)
    assert data["template"] == "ack_decision_needed"
    with Session(app.engine) as session:
        assert session.exec(select(Event).where(Event.kind == "onfile_suggested")).one()


def test_local_representative_without_action_gets_decision_needed(app: App) -> None:
    file(app, make_mail(sender=REP, sender_name="Riley Organiser",
                        body="Something happened and we need your help."))
    assert "We'll discuss and get back to you" in body_of(acks(app)[0])


def test_stranger_saying_action_was_taken_gets_decision_needed(app: App) -> None:
    file(app, make_mail(body="Action was taken already; for your records."))
    assert "We'll discuss and get back to you" in body_of(acks(app)[0])


def test_danger_adds_law_enforcement_advice_and_warns_every_member(app: App) -> None:
    out = file(app, make_mail(subject="Please help",
                              body=f"{SECRET_TEXT}. He threatened to kill me after the talk."))
    [ack] = acks(app)
    text = body_of(ack)
    # Person first, no rebuke: emergency services, urgency, a person soon.
    assert "If you or anyone else is in immediate danger, please contact your local " \
           "emergency services now." in text
    assert "a member of the working group will be in touch with you soon" in text
    assert "law enforcement first" not in text
    [urgent] = [r for r in outbox(app) if r.kind == "urgent"]
    assert urgent.recipients == [m["email"] for m in MEMBERS]
    notice = parsed(urgent)
    assert notice["To"] == ", ".join(m["email"] for m in MEMBERS)
    # str.strip: Python's folding may break a 70-80 character subject right after
    # "Subject:", and its parser then keeps the folding space (readers drop it).
    assert notice["Subject"].strip().startswith("URGENT")
    notice_text = body_of(urgent)
    assert out.case_code is not None and out.case_code in notice_text
    assert notice_text.startswith("Hi all,")
    # Queued is what is known, not received; the chair leads; #safety answers.
    assert "has been queued to the reporter" in notice_text
    assert "received" not in notice_text
    assert "Who takes the lead: Maya Chen (chair)" in notice_text
    assert "#safety yes" in notice_text
    raw = urgent.raw.decode("ascii").lower()
    for leak in (REPORTER, "jo reporter", "please help", "zanzibar", "mallory", "kill"):
        assert leak not in raw
    with Session(app.engine) as session:
        assert session.exec(select(Event).where(Event.kind == "urgent_notice_queued")).one()


def test_no_danger_no_urgent_notice(app: App) -> None:
    file(app, make_mail(body="The moderator was curt with me."))
    assert [r.kind for r in outbox(app)] == ["acknowledgement"]


def test_point_of_contact_signs_by_name(app: App) -> None:
    from bot.mail.parse import parse_message
    from bot.outbound.acknowledgement import TEMPLATE_ON_FILE, queue_acknowledgement

    raw = make_mail(message_id="r1@mail.example")
    out = file(app, raw)
    with session_scope(app.engine) as session:
        case = session.exec(select(Case).where(Case.code == out.case_code)).one()
        case.point_of_contact = MAYA
        session.add(case)
        queue_acknowledgement(session, app, case, parse_message(raw), template=TEMPLATE_ON_FILE,
                              actor=MAYA)
    later = acks(app)[-1]
    text = body_of(later)
    assert "Maya, a member of the working group, will follow up with you personally" in text
    assert "Chen" not in text
    assert text.rstrip().endswith("Regards,\nDSF Code of Conduct Working Group")


# --------------------------------------------------------------------------- backfill


def test_backfill_never_acknowledges(app: App) -> None:
    file(app, make_mail(body="He threatened to kill me."), backfill=True)
    assert outbox(app) == []
    [(kind, data)] = decisions(app)
    assert kind == "acknowledgement_suppressed" and data["rule"] == "backfill"


def test_import_never_acknowledges(app: App, tmp_path: Path) -> None:
    box = mailbox.mbox(str(tmp_path / "old.mbox"))
    for i in range(3):
        box.add(make_mail(sender=f"person{i}@mail.example", message_id=f"old{i}@mail.example"))
    box.flush()
    counts = import_path(app, tmp_path / "old.mbox")
    assert counts["new cases"] == 3
    assert outbox(app) == []
