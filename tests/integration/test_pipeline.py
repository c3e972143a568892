"""The pipeline on a real database (SQLite and PostgreSQL): filing, dedupe, threading."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.core.app import App
from bot.mail.msgids import make_message_id
from bot.outbound.outbox import queue_mail
from bot.store.models import AppendOnlyError, Case, Event, InboundMessage, Quarantine
from bot.store.records import case_record, find_case, list_cases
from tests.helpers import ALEX, CONDUCT, MAYA, REPORTER, auth_header, file, make_app, make_mail

# Storage behaviour (transactions, claims, constraints): SQLite and PostgreSQL.
pytestmark = pytest.mark.storage


@pytest.fixture
def app(db_url: str) -> App:
    return make_app(db_url)



def cases(app: App) -> list[dict[str, object]]:
    with Session(app.engine) as session:
        return [case_record(session, c) for c in list_cases(session)]


def test_new_report_opens_case_with_record(app: App) -> None:
    out = file(app, make_mail(message_id="r1@mail.example"), backfill=True)
    assert out.status == "filed" and out.new_case
    [rec] = cases(app)
    assert rec["status"] == "Ongoing"
    assert rec["message_ids"] == ["r1@mail.example"]
    code = str(rec["code"])
    assert len(code.split(" ")) == 2
    with Session(app.engine) as session:
        case = find_case(session, code)
        assert case is not None and case.reporter_address == REPORTER
        kinds = [e.kind for e in session.exec(select(Event).where(Event.case_id == case.id))]
        assert "case_opened" in kinds and "message_filed" in kinds


def test_same_message_twice_is_filed_once(app: App) -> None:
    raw = make_mail(message_id="r1@mail.example")
    assert file(app, raw, backfill=True).status == "filed"
    assert file(app, raw, backfill=True).status == "duplicate"
    with Session(app.engine) as session:
        assert len(session.exec(select(InboundMessage)).all()) == 1


def test_no_message_id_dedupes_by_hash(app: App) -> None:
    raw = make_mail(message_id="x@y.example").replace(b"Message-ID: <x@y.example>\n", b"")
    assert b"Message-ID" not in raw
    assert file(app, raw, backfill=True).status == "filed"
    assert file(app, raw, backfill=True).status == "duplicate"
    assert len(cases(app)) == 1


def test_raw_bytes_kept_unaltered(app: App) -> None:
    raw = make_mail(message_id="r1@mail.example").replace(b"\n", b"\r\n") + b"\r\n\x00tail"
    file(app, raw, backfill=True)
    with Session(app.engine) as session:
        row = session.exec(select(InboundMessage)).one()
        assert row.raw == raw


def test_reply_by_references_lands_in_case(app: App) -> None:
    file(app, make_mail(message_id="r1@mail.example"), backfill=True)
    out = file(app, make_mail(sender=MAYA, subject="Re: report", message_id="m1@example.org",
                              in_reply_to="r1@mail.example", references=["r1@mail.example"]),
               backfill=True)
    assert not out.new_case
    [rec] = cases(app)
    assert rec["message_ids"] == ["r1@mail.example", "m1@example.org"]


def test_reply_citing_unseen_message_still_lands(app: App) -> None:
    file(app, make_mail(message_id="r1@mail.example"), backfill=True)
    # A reply to r1 that the bot never sees (conduct address dropped) ...
    # ... and a reply to that reply, citing both.
    file(app, make_mail(sender=ALEX, message_id="m2@example.org", in_reply_to="ghost@x.example",
                        references=["r1@mail.example", "ghost@x.example"]), backfill=True)
    out = file(app, make_mail(sender=REPORTER, message_id="r3@mail.example",
                              in_reply_to="ghost@x.example", references=["ghost@x.example"]),
               backfill=True)
    assert not out.new_case
    assert len(cases(app)) == 1


def test_parent_arriving_after_reply_joins_it(app: App) -> None:
    file(app, make_mail(message_id="child@x.example", in_reply_to="parent@x.example"),
         backfill=True)
    out = file(app, make_mail(message_id="parent@x.example"), backfill=True)
    assert not out.new_case
    assert len(cases(app)) == 1


def test_message_tying_two_cases_merges_them(app: App) -> None:
    file(app, make_mail(message_id="a@x.example"), backfill=True)
    file(app, make_mail(sender="other@else.example", message_id="b@x.example"), backfill=True)
    assert len(cases(app)) == 2
    out = file(app, make_mail(sender=ALEX, message_id="c@example.org",
                              references=["a@x.example", "b@x.example"]), backfill=True)
    assert not out.new_case
    [rec] = cases(app)
    assert set(rec["message_ids"]) == {"a@x.example", "b@x.example", "c@example.org"}  # type: ignore[arg-type]


def test_ids_without_at_link_nothing(app: App) -> None:
    file(app, make_mail(message_id="a@x.example", headers={"In-Reply-To": "<yes>"}), backfill=True)
    file(app, make_mail(sender="b@else.example", message_id="b@x.example",
                        headers={"In-Reply-To": "<yes>"}), backfill=True)
    assert len(cases(app)) == 2


def test_code_name_in_subject_threads_only_for_member_or_participant(app: App) -> None:
    file(app, make_mail(message_id="r1@mail.example"), backfill=True)
    code = str(cases(app)[0]["code"]).replace(" ", "-")
    stranger = file(app, make_mail(sender="stranger@evil.example", message_id="s@evil.example",
                                   subject=f"[CoC {code}] hello"), backfill=True)
    assert stranger.new_case
    member = file(app, make_mail(sender=MAYA, message_id="m@example.org",
                                 subject=f"Re: [CoC {code}] update"), backfill=True)
    assert not member.new_case and member.case_code == code.replace("-", " ")
    reporter = file(app, make_mail(sender=REPORTER, message_id="r2@mail.example",
                                   subject=f"[CoC {code}] more"), backfill=True)
    assert not reporter.new_case


def test_own_message_id_threads_and_is_filed_as_own(app: App) -> None:
    file(app, make_mail(message_id="r1@mail.example"), backfill=True)
    with Session(app.engine) as session:
        case = session.exec(select(Case)).one()
        row = queue_mail(session, app, kind="warning", template="command_held", to=[MAYA],
                         case=case, context={"reason": "x", "commands": [], "replay": False})
        session.commit()
        own, copy = row.message_id, row.raw
    out = file(app, copy, backfill=True)
    assert not out.new_case
    reply = file(app, make_mail(sender=REPORTER, message_id="r2@mail.example",
                                in_reply_to=own), backfill=True)
    assert not reply.new_case
    with Session(app.engine) as session:
        row = session.exec(select(InboundMessage).where(InboundMessage.message_id == own)).one()
        assert row.kind == "own"


def test_our_id_alone_does_not_make_a_mail_our_own(app: App) -> None:
    file(app, make_mail(message_id="r1@mail.example"), backfill=True)
    with Session(app.engine) as session:
        case = session.exec(select(Case)).one()
    own = make_message_id(app.secret, "example.org", case.id)
    out = file(app, make_mail(sender=CONDUCT, message_id=own, subject="Re: report"), backfill=True)
    assert out.new_case  # not threaded by its own (unsent) id, not filed as ours
    with Session(app.engine) as session:
        row = session.exec(select(InboundMessage).where(InboundMessage.message_id == own)).one()
        assert row.kind != "own"
        assert session.exec(select(Event).where(Event.kind == "own_id_impersonated")).first()


def test_forged_own_id_does_not_thread(app: App) -> None:
    file(app, make_mail(message_id="r1@mail.example"), backfill=True)
    with Session(app.engine) as session:
        case = session.exec(select(Case)).one()
    forged = make_message_id("wrong-secret", "example.org", case.id)
    out = file(app, make_mail(sender="x@evil.example", message_id="e@evil.example",
                              in_reply_to=forged), backfill=True)
    assert out.new_case


def test_member_forward_opens_case_for_original_sender(app: App) -> None:
    body = (
        "FYI, this came to me directly.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Pat Person <pat@person.example>\n"
        "Date: Mon, 2 Nov 2026 at 10:15\n"
        "Subject: Something happened at the meetup\n"
        "To: Maya Chen <maya@example.org>\n\n"
        "I want to report what happened.\n"
    )
    out = file(app, make_mail(sender=MAYA, subject="Fwd: Something happened at the meetup",
                              body=body, message_id="fw@example.org"), backfill=True)
    assert out.new_case
    with Session(app.engine) as session:
        case = session.exec(select(Case)).one()
        assert case.reporter_address == "pat@person.example"
        assert case.date_reported.date().isoformat() == "2026-11-02"


def test_unparsable_message_is_quarantined_with_reason(app: App) -> None:
    out = file(app, b"\x00\x01\x02 not mail at all", backfill=True)
    assert out.status == "quarantined" and out.reason
    with Session(app.engine) as session:
        q = session.exec(select(Quarantine)).one()
        assert q.reason and q.kind == "unparsable"


def test_spam_is_quarantined(app: App) -> None:
    out = file(app, make_mail(headers={"X-Spam-Flag": "YES"}), backfill=True)
    assert out.status == "quarantined"
    assert cases(app) == []
    with Session(app.engine) as session:
        assert session.exec(select(Quarantine)).one().kind == "spam"


def test_events_are_append_only(app: App) -> None:
    file(app, make_mail(message_id="r1@mail.example"), backfill=True)
    with Session(app.engine) as session:
        ev = session.exec(select(Event)).first()
        assert ev is not None
        ev.kind = "tampered"
        session.add(ev)
        with pytest.raises(AppendOnlyError):
            session.flush()
        session.rollback()
        ev2 = session.exec(select(Event)).first()
        session.delete(ev2)
        with pytest.raises(AppendOnlyError):
            session.flush()


def test_info_logs_carry_no_addresses_subjects_or_bodies(app: App) -> None:
    from structlog.testing import capture_logs

    raws = [
        make_mail(message_id="r1@mail.example", subject="Harassment by Pat at DjangoCon",
                  body="Pat Person kept messaging me."),
        make_mail(sender=MAYA, message_id="m1@example.org", in_reply_to="r1@mail.example",
                  subject="Re: Harassment by Pat at DjangoCon", body="Thanks, looking."),
        b"garbage without headers",
    ]
    with capture_logs() as logs:
        for raw in raws:
            file(app, raw, backfill=False)
    text = repr([e for e in logs if e.get("log_level") in ("info", "warning", "error")])
    assert "message_id" in text
    for secret in (REPORTER, MAYA, "Harassment", "Pat Person", "Jo Reporter", "looking"):
        assert secret not in text


def test_reply_to_caseless_bot_mail_opens_no_case(app: App) -> None:
    digest_id = make_message_id(app.secret, "example.org", None)
    out = file(app, make_mail(sender=MAYA, message_id="d@example.org", in_reply_to=digest_id,
                              subject="Re: Daily digest #resolve"), backfill=True)
    assert out.status == "filed" and out.case_code is None
    assert cases(app) == []
    with Session(app.engine) as session:
        row = session.exec(select(InboundMessage)).one()
        assert row.kind == "reply-to-bot" and row.case_id is None
    assert file(app, make_mail(sender=MAYA, message_id="d@example.org",
                               in_reply_to=digest_id),
                backfill=True).status in {"duplicate", "replay"}


def test_original_arriving_after_members_forward_is_not_filed_twice(app: App) -> None:
    from email.message import EmailMessage
    from email.parser import BytesParser
    from email.policy import default

    file(app, make_mail(message_id="r1@mail.example"), backfill=True)
    original = make_mail(sender="party@else.example", message_id="orig@else.example",
                         to=[MAYA], in_reply_to="r1@mail.example", subject="Re: report")
    fwd = EmailMessage()
    fwd["Authentication-Results"] = auth_header()
    fwd["From"] = f"Maya Chen <{MAYA}>"
    fwd["To"] = CONDUCT
    fwd["Subject"] = "Fwd: Re: report"
    fwd["Message-ID"] = "<fwd@example.org>"
    fwd.set_content("Forwarding the reply that dropped the conduct address.")
    fwd.add_attachment(BytesParser(policy=default).parsebytes(original))
    out = file(app, fwd.as_bytes(), backfill=True)
    assert out.status == "filed" and not out.new_case
    again = file(app, original, backfill=True)
    assert again.status == "duplicate"
    [rec] = cases(app)
    assert rec["message_ids"].count("orig@else.example") == 1  # type: ignore[union-attr]


def test_forged_member_forward_is_not_taken_as_a_forward(app: App) -> None:
    body = (
        "---------- Forwarded message ---------\n"
        "From: Pat Person <pat@person.example>\n"
        "Date: Mon, 2 Nov 2026 at 10:15\n"
        "Subject: Something happened\n\n"
        "Made-up report.\n"
    )
    out = file(app, make_mail(sender=MAYA, subject="Fwd: Something happened", body=body,
                              message_id="forged@evil.example", authenticated=False), backfill=True)
    assert out.new_case
    with Session(app.engine) as session:
        case = session.exec(select(Case)).one()
        # Filed as the (claimed) member's own mail, not as a report by Pat.
        assert case.reporter_address == MAYA
