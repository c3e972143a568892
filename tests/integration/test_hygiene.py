"""Thread hygiene on a real database: [+ Name]/[- Name] notes, cc-conduct, reporter leaks.

Every test builds a case thread with `make_mail`, files it through the real pipeline
(handlers and rules/hygiene.toml included) and looks at the outbox and case history.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from bot.core.app import App
from bot.core.config import ConfigError
from bot.core.resources import shipped_dir
from bot.rules.loader import load_rules
from bot.store.codenames import slug
from bot.store.db import session_scope
from bot.store.models import Case, CaseMessage, Event, InboundMessage, Outbox
from tests.helpers import (
    ALEX,
    CONDUCT,
    MAYA,
    MEMBERS,
    REPORTER,
    auth_header,
    file,
    make_app,
    make_mail,
)

PARTY = "kim.party@else.example"
PARTY_NAMED = f"Kim Party <{PARTY}>"
MOD = "mod@forum.example"
MOD_NAMED = f"Forum Moderator <{MOD}>"
FRIEND = "friend@mail.example"
REPORT_ID = "r1@mail.example"
REPORT_TEXT = "Someone was rude to me in the forum thread yesterday."
MEMBER_EMAILS = {m["email"] for m in MEMBERS}


@pytest.fixture
def app(db_url: str) -> App:
    return make_app(db_url)



def open_report(app: App) -> str:
    """File the report that opens the case; return the case code name."""
    out = file(app, make_mail(message_id=REPORT_ID, body=REPORT_TEXT))
    assert out.new_case and out.case_code
    return out.case_code


def hygiene_mail(app: App) -> list[Outbox]:
    """Warnings and alerts queued so far (not the acknowledgement)."""
    with Session(app.engine) as session:
        rows = session.exec(select(Outbox).where(col(Outbox.kind).in_(("warning", "alert")))
                            .order_by(col(Outbox.id))).all()
        return list(rows)


def events(app: App, kind: str) -> list[Event]:
    with Session(app.engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind)
                                 .order_by(col(Event.id))).all())


def text_of(row: Outbox) -> str:
    msg = BytesParser(policy=policy.default).parsebytes(row.raw)
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    return f"Subject: {msg['Subject']}\n\n{body.get_content()}"


def assert_members_only(app: App) -> None:
    """No warning or alert ever goes to the reporter or anyone outside the group."""
    for row in hygiene_mail(app):
        assert set(row.recipients) <= MEMBER_EMAILS, row.recipients
        assert REPORTER not in row.recipients
        assert REPORT_TEXT not in text_of(row)
        assert REPORTER not in text_of(row)


def maya_reply(message_id: str, *, to: tuple[str, ...] = (REPORTER,),
               cc: tuple[str, ...] = (CONDUCT,), body: str = "Hi Jo,\n\nThanks for writing.",
               in_reply_to: str = REPORT_ID, references: tuple[str, ...] = (REPORT_ID,),
               html: str | None = None, subject: str = "Re: Report") -> bytes:
    return make_mail(sender=MAYA, sender_name="Maya Chen", to=to, cc=cc, body=body,
                     message_id=message_id, in_reply_to=in_reply_to, references=references,
                     html=html, subject=subject)


# --------------------------------------------------------------------- [+ Name] / [- Name]


def test_adding_outsider_without_note_warns_the_member_once(app: App) -> None:
    code = open_report(app)
    file(app, maya_reply("m1@example.org", cc=(CONDUCT, MOD_NAMED)))
    [warning] = hygiene_mail(app)
    assert warning.kind == "warning" and warning.recipients == [MAYA]
    text = text_of(warning)
    assert code in text and f"[CoC {slug(code)}]" in text
    assert "Added without a [+ Name] note" in text and MOD in text
    assert "[+ Forum Moderator]" in text
    # Threaded under the member's own message, for the member alone.
    assert b"In-Reply-To: <m1@example.org>" in warning.raw
    [problem] = events(app, "hygiene_problem")
    assert problem.data["rule"] == "recipient-notes" and problem.data["added"] == [MOD]
    assert_members_only(app)


def test_same_problem_in_same_thread_warns_once(app: App) -> None:
    open_report(app)
    file(app, maya_reply("m1@example.org", cc=(CONDUCT, MOD_NAMED)))
    file(app, maya_reply("m2@example.org", cc=(CONDUCT, MOD_NAMED), body="One more thing."))
    assert len(hygiene_mail(app)) == 1
    # Recorded each time, warned once.
    assert len(events(app, "hygiene_problem")) == 2
    assert len(events(app, "hygiene_warning")) == 1


@pytest.mark.parametrize("note", ["[+ Forum Moderator]", "[+Forum]", "[ + mod ]",
                                  f"[+ {MOD}]", "Hi all,\n\n[+ moderator]"])
def test_adding_with_a_note_is_fine(app: App, note: str) -> None:
    open_report(app)
    file(app, maya_reply("m1@example.org", cc=(CONDUCT, MOD_NAMED),
                         body=f"{note}\n\nHi Jo, I have added the forum moderator."))
    assert hygiene_mail(app) == []
    assert events(app, "hygiene_problem") == []


def test_removing_without_note_warns(app: App) -> None:
    open_report(app)
    file(app, maya_reply("m1@example.org", cc=(CONDUCT, MOD_NAMED), body="[+ Forum Moderator]"))
    assert hygiene_mail(app) == []
    file(app, maya_reply("m2@example.org", cc=(CONDUCT,), in_reply_to="m1@example.org",
                         references=(REPORT_ID, "m1@example.org"), body="Just us now."))
    [warning] = hygiene_mail(app)
    text = text_of(warning)
    assert "Removed without a [- Name] note" in text and MOD in text
    assert "[- Forum Moderator]" in text
    assert_members_only(app)


def test_removing_with_note_is_fine(app: App) -> None:
    open_report(app)
    file(app, maya_reply("m1@example.org", cc=(CONDUCT, MOD_NAMED), body="[+ Forum Moderator]"))
    file(app, maya_reply("m2@example.org", cc=(CONDUCT,), in_reply_to="m1@example.org",
                         references=(REPORT_ID, "m1@example.org"), body="[- Forum]\n\nHi Jo"))
    assert hygiene_mail(app) == []


def test_wrong_name_and_note_without_change_are_named(app: App) -> None:
    open_report(app)
    file(app, maya_reply("m1@example.org", cc=(CONDUCT, MOD_NAMED),
                         body="[+ Samantha]\n[- Alex]\n\nHi Jo"))
    [warning] = hygiene_mail(app)
    text = text_of(warning)
    assert "[+ Samantha]" in text and "[- Alex]" in text and MOD in text


def test_html_mail_with_the_note(app: App) -> None:
    open_report(app)
    html = ('<div dir="ltr"><div>Hi Jo,</div><div>[+ Forum Moderator]</div></div>'
            '<div class="gmail_quote"><blockquote class="gmail_quote">[- Someone]'
            "</blockquote></div>")
    file(app, maya_reply("m1@example.org", cc=(CONDUCT, MOD_NAMED), body="", html=html))
    assert hygiene_mail(app) == []


def test_html_mail_with_the_note_only_in_the_quote_warns(app: App) -> None:
    open_report(app)
    html = ('<div dir="ltr">Hi Jo,</div><div class="gmail_quote">'
            "<blockquote>[+ Forum Moderator]</blockquote></div>")
    file(app, maya_reply("m1@example.org", cc=(CONDUCT, MOD_NAMED), body="", html=html))
    [warning] = hygiene_mail(app)
    assert MOD in text_of(warning)


def test_aliases_plus_tags_and_free_addresses_are_no_change(app: App, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(shipped_dir("rules"), rules)
    path = rules / "hygiene.toml"
    path.write_text(path.read_text().replace("free_addresses = []",
                                             'free_addresses = ["@archive.example"]'))
    app = make_app(str(app.config.database.url), rules_dir=str(rules))
    open_report(app)
    # Maya writes from her alias and copies the archive; the party's gmail address is
    # written differently by each client.
    file(app, maya_reply("m1@example.org", to=(REPORTER, "kim.party@gmail.com"),
                         body="[+ Kim]"))
    file(app, make_mail(sender="maya.chen@example.org", sender_name="Maya Chen",
                        to=(REPORTER, "KimParty+cases@gmail.com"),
                        cc=(CONDUCT, "log@archive.example"), message_id="m2@example.org",
                        in_reply_to="m1@example.org", references=[REPORT_ID, "m1@example.org"],
                        body="Following up.", authenticated=True))
    assert hygiene_mail(app) == []


def test_taking_the_discussion_internal_needs_no_note(app: App, tmp_path: Path) -> None:
    open_report(app)
    internal = maya_reply("m1@example.org", to=(CONDUCT,), cc=(ALEX,), body="Thoughts?")
    file(app, internal)
    assert hygiene_mail(app) == []
    # Unless the policy says otherwise.
    rules = tmp_path / "rules"
    shutil.copytree(shipped_dir("rules"), rules)
    path = rules / "hygiene.toml"
    path.write_text(path.read_text().replace("internal_exempt = true", "internal_exempt = false"))
    strict = make_app(f"sqlite:///{tmp_path / 'strict.db'}", rules_dir=str(rules))
    open_report(strict)
    file(strict, internal)
    [warning] = hygiene_mail(strict)
    text = text_of(warning)
    assert "Removed without a [- Name] note" in text and "Added without a [+ Name] note" in text


def test_outsider_changing_recipients_is_not_lectured(app: App) -> None:
    code = open_report(app)
    with session_scope(app.engine) as session:
        case = session.exec(select(Case)).one()
        case.point_of_contact = ALEX
        session.add(case)
    file(app, maya_reply("m1@example.org"))
    # The reporter brings a friend in, without a note.
    file(app, make_mail(sender=REPORTER, to=(MAYA,), cc=(CONDUCT, FRIEND),
                        message_id="r2@mail.example", in_reply_to="m1@example.org",
                        references=[REPORT_ID, "m1@example.org"], body="My friend saw it too."))
    [notice] = hygiene_mail(app)
    assert notice.kind == "alert" and notice.recipients == [ALEX]
    text = text_of(notice)
    assert code in text and "point of contact" in text and "1 recipient added" in text
    # Member-only mail names no one: the added address is in the message itself.
    assert FRIEND not in text and REPORTER not in text
    [problem] = events(app, "hygiene_problem")
    assert problem.data["by_member"] is False and problem.data["added"] == [FRIEND]
    with Session(app.engine) as session:
        rcpts = [r for row in session.exec(select(Outbox)).all() for r in row.recipients]
    assert FRIEND not in rcpts


def test_outsider_dropping_a_member_is_not_news(app: App) -> None:
    open_report(app)
    file(app, maya_reply("m1@example.org"))
    file(app, make_mail(sender=REPORTER, to=(CONDUCT,), message_id="r2@mail.example",
                        in_reply_to="m1@example.org", references=[REPORT_ID, "m1@example.org"]))
    assert hygiene_mail(app) == []


def test_backfill_never_warns(app: App) -> None:
    open_report(app)
    file(app, maya_reply("m1@example.org", cc=(CONDUCT, MOD_NAMED)), backfill=True)
    assert hygiene_mail(app) == []


def test_disabled_rule_does_not_run(app: App, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(shipped_dir("rules"), rules)
    path = rules / "hygiene.toml"
    text = path.read_text().replace('kind = "recipient_change"\n',
                                    'kind = "recipient_change"\nenabled = false\n')
    path.write_text(text)
    app = make_app(str(app.config.database.url), rules_dir=str(rules))
    open_report(app)
    file(app, maya_reply("m1@example.org", cc=(CONDUCT, MOD_NAMED)))
    assert hygiene_mail(app) == []


# --------------------------------------------------------------------- cc the conduct address


def test_conduct_only_in_bcc_warns_the_member(app: App) -> None:
    code = open_report(app)
    file(app, maya_reply("m1@example.org", cc=()))  # conduct address only as Bcc
    [warning] = hygiene_mail(app)
    assert warning.recipients == [MAYA] and warning.kind == "warning"
    text = text_of(warning)
    assert code in text and f"cc {CONDUCT}" in text
    assert [e.data["rule"] for e in events(app, "hygiene_problem")] == ["cc-conduct"]
    # The next Bcc in the same thread is the same problem.
    file(app, maya_reply("m2@example.org", cc=(), body="Another one."))
    assert len(hygiene_mail(app)) == 1
    assert_members_only(app)


def test_outsider_bcc_is_recorded_not_lectured(app: App) -> None:
    open_report(app)
    file(app, make_mail(sender=REPORTER, to=(MAYA,), message_id="r2@mail.example",
                        in_reply_to=REPORT_ID, references=[REPORT_ID]))
    assert hygiene_mail(app) == []
    assert [e.data["rule"] for e in events(app, "hygiene_problem")] == ["cc-conduct"]


# --------------------------------------------------------------------- unseen replies


def party_thread(app: App) -> tuple[str, str]:
    """Report, then Maya writes to the reported party (cc conduct) in a new thread."""
    code = open_report(app)
    subject = f"[CoC {slug(code)}] Our concern"
    file(app, make_mail(sender=MAYA, sender_name="Maya Chen", to=(PARTY_NAMED,), cc=(CONDUCT,),
                        subject=subject, message_id="m1@example.org",
                        body="Hello Kim,\n\nWe would like to talk about the forum thread."))
    return code, subject


def party_reply(subject: str) -> bytes:
    """The party's reply to Maya alone: the conduct address dropped."""
    return make_mail(sender=PARTY, sender_name="Kim Party", to=("Maya Chen <maya@example.org>",),
                     subject=f"Re: {subject}", message_id="g1@else.example",
                     in_reply_to="m1@example.org", references=["m1@example.org"],
                     body="I do not think I did anything wrong.")


def maya_answers_party(message_id: str = "m2@example.org") -> bytes:
    return make_mail(sender=MAYA, sender_name="Maya Chen", to=(PARTY_NAMED,), cc=(CONDUCT,),
                     subject="Re: Our concern", message_id=message_id,
                     in_reply_to="g1@else.example", references=["m1@example.org",
                                                                "g1@else.example"],
                     body="Thanks for your reply, Kim.")


def test_reply_citing_unseen_message_alerts_point_of_contact(app: App) -> None:
    code, subject = party_thread(app)
    with session_scope(app.engine) as session:
        case = session.exec(select(Case)).one()
        case.point_of_contact = ALEX
        session.add(case)
    out = file(app, maya_answers_party())
    assert not out.new_case
    [alert] = hygiene_mail(app)
    assert alert.kind == "alert" and alert.recipients == [ALEX]
    text = text_of(alert)
    assert code in text and "never reached" in text and "from Maya Chen" in text
    assert "point of contact" in text
    # Member-only mail carries code names, dates and fixed text: no thread subject.
    assert subject not in text
    # Later replies citing the same gap do not alert again.
    file(app, make_mail(sender=PARTY, to=(MAYA,), cc=(CONDUCT,), message_id="g2@else.example",
                        in_reply_to="m2@example.org",
                        references=["m1@example.org", "g1@else.example", "m2@example.org"]))
    assert len(hygiene_mail(app)) == 1
    assert_members_only(app)


def test_unseen_reply_goes_to_the_chairs_without_point_of_contact(app: App) -> None:
    party_thread(app)
    file(app, maya_answers_party())
    [alert] = hygiene_mail(app)
    assert alert.recipients == [MAYA]  # the chair
    assert "chair" in text_of(alert)


def test_history_before_the_report_is_not_a_gap(app: App) -> None:
    # The report itself answers mail the bot never saw; so does every reply to it.
    out = file(app, make_mail(message_id=REPORT_ID, in_reply_to="old@x.example",
                              references=["older@x.example", "old@x.example"]))
    assert out.new_case
    file(app, maya_reply("m1@example.org", references=("older@x.example", "old@x.example",
                                                       REPORT_ID)))
    assert hygiene_mail(app) == []


def forward_as_attachment(raw: bytes, *, sender: str = ALEX, subject: str = "Fwd: reply",
                          message_id: str = "fwd1@example.org") -> bytes:
    outer = EmailMessage()
    outer["Authentication-Results"] = auth_header(sender.split("@", 1)[1])
    outer["From"] = sender
    outer["To"] = CONDUCT
    outer["Subject"] = subject
    outer["Date"] = format_datetime(datetime.now(UTC))
    outer["Message-ID"] = f"<{message_id}>"
    outer.set_content("Forwarding the reply that missed the conduct address.")
    outer.add_attachment(BytesParser(policy=policy.default).parsebytes(raw))
    return outer.as_bytes()


def forward_inline(subject: str, *, sender: str = ALEX,
                   message_id: str = "fwd2@example.org") -> bytes:
    body = ("FYI, see below.\n\n"
            "---------- Forwarded message ---------\n"
            "From: Kim Party <kim.party@else.example>\n"
            "Date: Mon, 2 Nov 2026 at 10:15\n"
            f"Subject: Re: {subject}\n"
            "To: Maya Chen <maya@example.org>\n\n"
            "I do not think I did anything wrong.\n")
    return make_mail(sender=sender, to=(CONDUCT,), subject=f"Fwd: Re: {subject}",
                     message_id=message_id, body=body)


def test_forward_as_attachment_files_the_original_and_closes_the_gap(app: App) -> None:
    code, subject = party_thread(app)
    file(app, maya_answers_party())
    assert len(hygiene_mail(app)) == 1
    out = file(app, forward_as_attachment(party_reply(subject)))
    assert not out.new_case and out.case_code == code
    with Session(app.engine) as session:
        assert len(session.exec(select(Case)).all()) == 1
        row = session.exec(select(InboundMessage)
                           .where(InboundMessage.dedupe_key == "mid:fwd1@example.org")).one()
        assert row.kind == "forwarded"
        assert row.message_id == "g1@else.example" and row.from_address == PARTY
        assert not session.exec(select(CaseMessage).where(
            CaseMessage.message_id == "g1@else.example", CaseMessage.seen == False  # noqa: E712
        )).all()
        seen = session.exec(select(CaseMessage)
                            .where(CaseMessage.message_id == "g1@else.example")).one()
        assert seen.seen
    assert len(hygiene_mail(app)) == 1  # the forward itself is no new problem


def test_forward_before_the_citing_reply_means_no_alert(app: App) -> None:
    code, subject = party_thread(app)
    out = file(app, forward_as_attachment(party_reply(subject), subject=f"Fwd: Re: {subject}"))
    assert out.case_code == code and not out.new_case
    file(app, maya_answers_party())
    assert hygiene_mail(app) == []


def test_inline_forward_files_the_original_into_the_case(app: App) -> None:
    code, subject = party_thread(app)
    file(app, maya_answers_party())
    out = file(app, forward_inline(subject))
    assert not out.new_case and out.case_code == code
    with Session(app.engine) as session:
        assert len(session.exec(select(Case)).all()) == 1
        row = session.exec(select(InboundMessage)
                           .where(InboundMessage.dedupe_key == "mid:fwd2@example.org")).one()
        assert row.kind == "forwarded" and row.from_address == PARTY
        assert row.date is not None and row.date.year == 2026 and row.date.month == 11


# --------------------------------------------------------------------- reporter identity


def to_party(body: str, *, message_id: str = "m9@example.org", subject: str = "") -> bytes:
    return make_mail(sender=MAYA, sender_name="Maya Chen", to=(PARTY_NAMED,), cc=(CONDUCT,),
                     subject=subject or "Re: Our concern", message_id=message_id,
                     in_reply_to="m1@example.org", references=["m1@example.org"], body=body)


@pytest.mark.parametrize(("body", "what"), [
    (f"Hello Kim,\n\nWe heard from {REPORTER} about the thread.", "email address"),
    ("Hello Kim,\n\nJo Reporter told us about the thread.", "name"),
    ("Hello Kim,\n\nThe user @jo.reporter on the forum told us.", "username"),
    ("Hello Kim,\n\nPlease see below.\n\n> From: Jo Reporter\n> It was rude.", "name"),
])
def test_reporter_identity_to_the_reported_party_is_caught(app: App, body: str,
                                                           what: str) -> None:
    code, _ = party_thread(app)
    file(app, to_party(body))
    [warning] = hygiene_mail(app)
    assert warning.recipients == [MAYA] and warning.kind == "warning"
    text = text_of(warning)
    assert code in text and what in text and PARTY in text
    assert "disclose identities of reporters" in text
    assert_members_only(app)


def test_clean_mail_to_the_reported_party_is_not_caught(app: App) -> None:
    party_thread(app)
    file(app, to_party("Hello Kim,\n\nWe received a report about the forum thread and would "
                       "like to hear your side. Please be respectful in the forum."))
    assert hygiene_mail(app) == []


def test_forwarding_the_report_itself_outside_is_caught(app: App) -> None:
    party_thread(app)
    with Session(app.engine) as session:
        report = session.exec(select(InboundMessage)
                              .where(InboundMessage.message_id == REPORT_ID)).one().raw
    raw = forward_as_attachment(report, sender=MAYA, subject="Fwd: Report",
                                message_id="m9@example.org")
    raw = raw.replace(f"To: {CONDUCT}".encode(), f"To: {PARTY}\nCc: {CONDUCT}".encode(), 1)
    file(app, raw)
    [warning] = hygiene_mail(app)
    assert warning.recipients == [MAYA] and "attached message" in text_of(warning)


def test_username_recorded_by_command_is_caught(app: App) -> None:
    code, _ = party_thread(app)
    out = file(app, make_mail(sender=ALEX, to=(CONDUCT,), subject=f"[CoC {code}] #username jdev42",
                              message_id="u1@example.org", body="Recording it."))
    assert out.case_code == code
    with Session(app.engine) as session:
        transcript = session.exec(select(Outbox).where(Outbox.kind == "transcript")).one()
    assert b"jdev42" not in transcript.raw
    file(app, to_party("Hello Kim,\n\nThe account jdev42 reported the thread."))
    [warning] = hygiene_mail(app)
    assert warning.recipients == [MAYA] and "username" in text_of(warning)
    assert_members_only(app)


def test_reporter_identity_to_the_reporter_is_fine(app: App) -> None:
    open_report(app)
    file(app, maya_reply("m1@example.org", body=f"Hi Jo Reporter, we wrote to {REPORTER}."))
    assert hygiene_mail(app) == []


# --------------------------------------------------------------------- rules as data


def test_a_second_rule_of_an_existing_kind_needs_no_python(app: App, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(shipped_dir("rules"), rules)
    (rules / "extra.toml").write_text(
        '[[rule]]\nname = "unseen-reply-chairs"\nkind = "unseen_citation"\n'
        'description = "chairs hear about replies that never reached the address"\n'
        'template = "alert_unseen_reply"\nnotify = ["chairs"]\n')
    app = make_app(str(app.config.database.url), rules_dir=str(rules))
    party_thread(app)
    with session_scope(app.engine) as session:
        case = session.exec(select(Case)).one()
        case.point_of_contact = ALEX
        session.add(case)
    file(app, maya_answers_party())
    assert sorted(r.recipients[0] for r in hygiene_mail(app)) == [ALEX, MAYA]


@pytest.mark.parametrize(("line", "error"), [
    ('notify = ["everyone"]', "notify: Value error, unknown audience 'everyone'"),
    ('template = "no_such_template"', "template: no template 'no_such_template'"),
    ('chain = "acknowledge"', "chain: Value error, hygiene rules run in the 'hygiene' chain"),
    ("free_adresses = []", "free_adresses: unknown key"),
    ('conduct_aliases = ["not an address"]', "conduct_aliases: Value error, not an address"),
    ('outsider_notify = ["chairs"]', "outsider_notify: Value error, needs an outsider_template"),
])
def test_bad_policy_is_refused_at_start_with_file_rule_and_key(tmp_path: Path, line: str,
                                                               error: str) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mine.toml").write_text(
        f'[[rule]]\nname = "mine"\nkind = "cc_conduct_missing"\n'
        f'description = "d"\n{line}\n')
    app = make_app(f"sqlite:///{tmp_path / 'x.db'}", rules_dir=str(rules))
    with pytest.raises(ConfigError) as exc:
        load_rules(app.config)
    assert "rules/mine.toml: rule[0] (mine)." in str(exc.value)
    assert error in str(exc.value)


def test_reporter_phrasing_copied_to_the_reported_party_is_caught_with_draft_hint(
        app: App) -> None:
    party_thread(app)
    words = REPORT_TEXT.split()[:10]
    file(app, to_party("Hello Kim,\n\nWe were told: " + " ".join(words) + "\n"))
    [warning] = hygiene_mail(app)
    text = text_of(warning)
    assert "copied from their own mail" in text and "#draft" in text
    assert_members_only(app)
