"""Draft review: findings to the author, a second member's #approve, then one send."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from bot.core.app import App
from bot.mail.msgids import own_case_id
from bot.store.models import Event, Outbox
from tests.helpers import ALEX, CONDUCT, MAYA, SAM, file, make_app, make_mail

PARTY = "pat.party@elsewhere.example"
SENTENCE = "you people should never come to our meetups again or you will regret it"
REPORT = ("Hello, at the sprint Pat Party told me in front of everyone that "
          f"{SENTENCE}. I left early and felt unsafe walking home.")
CLEAN = """Draft-To: Pat Party <pat.party@elsewhere.example>

Hello,

Description of behaviour:
At a recent community event, you made remarks telling another participant they were not welcome.

Impact:
Remarks like these make people feel unwelcome and unsafe in the community.

Expected changes:
Please do not contact the people involved, and keep to the Code of Conduct.

Consequences:
This is a formal warning. Further incidents will lead to a suspension.

Regards,
Maya
"""
BAD = f"""Draft-To: Pat Party <pat.party@elsewhere.example>

Hello,

Description of behaviour:
Jo Reporter told us that you said "{SENTENCE}".

Impact:
Remarks like these make people feel unwelcome.

Expected changes:
Please do not contact the people involved.

Regards,
Maya
"""


@pytest.fixture
def app(tmp_path: Path) -> App:
    return make_app(f"sqlite:///{tmp_path / 'db.sqlite'}")


def _case(app: App) -> str:
    out = file(app, make_mail(subject="Behaviour at the sprint", body=REPORT,
                              message_id="report@mail.example"))
    assert out.case_code is not None
    return out.case_code


def _tag(code: str) -> str:
    return f"[CoC {code.replace(' ', '-')}]"


def _rows(app: App, kind: str | None = None) -> list[Outbox]:
    with Session(app.engine) as s:
        q = select(Outbox).order_by(col(Outbox.id))
        rows = list(s.exec(q).all())
    return [r for r in rows if kind is None or r.kind == kind]


def _events(app: App, kind: str) -> list[Event]:
    with Session(app.engine) as s:
        return list(s.exec(select(Event).where(Event.kind == kind)).all())


def _text(row: Outbox) -> str:
    msg = message_from_bytes(row.raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _last_transcript(app: App) -> str:
    return _text(_rows(app, "transcript")[-1])


def _draft(app: App, code: str, body: str, mid: str, *, sender: str = MAYA,
           sender_name: str = "Maya Chen", subject: str = "Your conduct at the sprint") -> None:
    file(app, make_mail(sender=sender, sender_name=sender_name,
                        subject=f"{subject} {_tag(code)} #draft", body=body, message_id=mid))


def _approve(app: App, code: str, draft_mid: str, sender: str, mid: str,
             args: str = "", **kw: object) -> None:
    file(app, make_mail(sender=sender, sender_name="Member",
                        subject=f"Re: Your conduct {_tag(code)} #draft #approve {args}"
                        .strip(), body="Looks good.", message_id=mid, in_reply_to=draft_mid,
                        **kw))  # type: ignore[arg-type]


def test_bad_draft_gets_three_findings_and_is_not_sent(app: App) -> None:
    code = _case(app)
    _draft(app, code, BAD, "d1@example.org")
    text = _last_transcript(app)
    assert "3 findings" in text
    assert "reporter's name" in text and "words copied" in text and '"consequences"' in text
    assert _rows(app, "transcript")[-1].recipients == [MAYA]
    _approve(app, code, "d1@example.org", ALEX, "a1@example.org")
    assert "open findings" in _last_transcript(app)
    assert _rows(app, "draft") == []
    assert not any(PARTY in r.recipients for r in _rows(app))


def test_revise_then_clean_draft_approved_by_another_member_is_sent_once(app: App) -> None:
    code = _case(app)
    _draft(app, code, BAD, "d1@example.org")
    file(app, make_mail(sender=ALEX, sender_name="Alex Smith",
                        subject=f"Re: Your conduct {_tag(code)} #revise drop the name",
                        body="See note.", message_id="rv1@example.org",
                        in_reply_to="d1@example.org"))
    [note] = _rows(app, "draft_revise")
    assert note.recipients == [MAYA] and "drop the name" in _text(note)
    _draft(app, code, CLEAN, "d2@example.org")
    assert "no findings" in _last_transcript(app)
    # The author's own approval is refused.
    _approve(app, code, "d2@example.org", MAYA, "a0@example.org")
    assert "second member" in _last_transcript(app)
    assert _rows(app, "draft") == []
    # The revised draft cannot be approved any more.
    _approve(app, code, "d1@example.org", ALEX, "a1@example.org")
    assert "sent back for revision" in _last_transcript(app)
    _approve(app, code, "d2@example.org", ALEX, "a2@example.org")
    _approve(app, code, "d2@example.org", SAM, "a3@example.org")
    [sent] = _rows(app, "draft")
    assert sent.recipients == [PARTY, CONDUCT]
    msg = message_from_bytes(sent.raw, policy=policy.default)
    assert msg["From"].addresses[0].addr_spec == CONDUCT
    assert msg["Subject"] == "Your conduct at the sprint"
    assert msg["Auto-Submitted"] == "no"
    assert own_case_id(app.secret, sent.message_id) is not None
    body = _text(sent)
    assert "Draft-To" not in body and "#" not in body and body.startswith("Hello,")
    assert "Consequences:" in body
    [ev] = _events(app, "draft_sent")
    assert ev.data["author"] == MAYA and ev.data["approver"] == ALEX


def test_recused_member_cannot_approve(app: App) -> None:
    code = _case(app)
    file(app, make_mail(sender=SAM, sender_name="Sam Jones",
                        subject=f"Re: x {_tag(code)} #recuse", body="conflict"))
    _draft(app, code, CLEAN, "d2@example.org")
    _approve(app, code, "d2@example.org", SAM, "a1@example.org")
    assert "recused" in _last_transcript(app)
    assert _rows(app, "draft") == []


def test_override_needs_a_reason_and_is_recorded(app: App) -> None:
    code = _case(app)
    _draft(app, code, BAD, "d1@example.org")
    _approve(app, code, "d1@example.org", ALEX, "a1@example.org", args="override")
    assert "needs a reason" in _last_transcript(app)
    _approve(app, code, "d1@example.org", ALEX, "a2@example.org",
             args="override the reporter asked us to name them")
    [sent] = _rows(app, "draft")
    assert sent.recipients == [PARTY, CONDUCT]
    [ev] = _events(app, "draft_approved")
    assert ev.data["override"] == "the reporter asked us to name them"


def test_strangers_and_forgeries_send_nothing(app: App) -> None:
    code = _case(app)
    # A stranger's #draft naming a third party: plain mail, no draft, nothing sent.
    file(app, make_mail(sender="mallory@evil.example", sender_name="Mallory",
                        subject=f"Re: x {_tag(code)} #draft", body=CLEAN,
                        message_id="s1@evil.example"))
    _draft(app, code, CLEAN, "d2@example.org")
    file(app, make_mail(sender="mallory@evil.example", sender_name="Mallory",
                        subject=f"Re: x {_tag(code)} #approve", body="ok",
                        in_reply_to="d2@example.org"))
    # A forged member From (no authentication) is held, not obeyed.
    _approve(app, code, "d2@example.org", ALEX, "f1@example.org", authenticated=False)
    assert _rows(app, "draft") == []
    assert len(_events(app, "draft_filed")) == 1
    assert _events(app, "command_held")


@pytest.mark.parametrize(
    ("draft_to", "error"),
    [
        ("Draft-To: a@x.example\nBcc: victim@y.example", None),
        ("Draft-To: =?utf-8?q?a=0D=0ABcc=3A_v=40y=2Eexample?= <a@x.example>", None),
        (f"Draft-To: {CONDUCT}", "conduct address is copied"),
    ],
)
def test_hostile_draft_to(app: App, draft_to: str, error: str | None) -> None:
    # (Refused forms, as Draft-Bcc or too many recipients: tests/unit/test_drafts_parse.py.)
    code = _case(app)
    _draft(app, code, draft_to + "\n\n" + CLEAN.split("\n", 2)[2], "d9@example.org")
    text = _last_transcript(app)
    if error is not None:
        assert error in text
        assert not _events(app, "draft_filed")
        return
    _approve(app, code, "d9@example.org", ALEX, "a9@example.org",
             args="override testing")
    [sent] = _rows(app, "draft")
    assert sent.recipients == ["a@x.example", CONDUCT]
    head = sent.raw.split(b"\r\n\r\n", 1)[0]
    assert b"victim" not in head and b"Bcc" not in head and b"v@y" not in head


# --------------------------------------------------------------------------- letters, #contact

@pytest.mark.parametrize("kind", ["", "outcome", "progress", "feedback", "board"])
def test_letter_skeleton_goes_to_the_author_only(tmp_path: Path, kind: str) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'db.sqlite'}",
                   board={"liaison": "liaison@board.example"})
    code = _case(app)
    file(app, make_mail(sender=MAYA, sender_name="Maya Chen",
                        subject=f"Re: x {_tag(code)} #letter {kind}".strip(), body="please"))
    [row] = _rows(app, "letter")
    assert row.recipients == [MAYA]
    text = _text(row)
    assert "Draft-To:" in text
    if kind == "":
        for part in ("Description of behaviour:", "Impact:", "Expected changes:",
                     "Consequences:"):
            assert part in text
    if kind == "board":
        assert "Draft-To: liaison@board.example" in text and code in text
    if kind == "feedback":
        assert "acceptable" in text
    # The letter part names nobody: not the reporter, not a member's surname.
    letter = text.split("Draft-To:", 1)[1]
    for name in ("Jo", "Reporter", "Pat", "Chen"):
        assert name not in letter.split("\n", 1)[1]


def test_letter_board_leaves_out_an_excluded_liaison(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'db.sqlite'}", board={"liaison": SAM})
    code = _case(app)
    file(app, make_mail(sender=SAM, sender_name="Sam Jones",
                        subject=f"Re: x {_tag(code)} #recuse", body="conflict"))
    file(app, make_mail(sender=MAYA, sender_name="Maya Chen",
                        subject=f"Re: x {_tag(code)} #letter board", body="please"))
    [row] = _rows(app, "letter")
    text = _text(row)
    assert SAM not in text and "excluded" in text


def test_contact_tells_the_reporter_unless_quiet(app: App) -> None:
    from tests.helpers import REPORTER

    code = _case(app)
    file(app, make_mail(sender=ALEX, sender_name="Alex Smith",
                        subject=f"Re: x {_tag(code)} #contact quiet", body="me"))
    assert _rows(app, "reporter_note") == []
    file(app, make_mail(sender=MAYA, sender_name="Maya Chen",
                        subject=f"Re: x {_tag(code)} #contact", body="me"))
    [note] = _rows(app, "reporter_note")
    assert note.recipients == [REPORTER, CONDUCT]
    msg = message_from_bytes(note.raw, policy=policy.default)
    assert code.split()[0] not in str(msg["Subject"]) and "sprint" not in str(msg["Subject"])
    assert msg["In-Reply-To"] == "<report@mail.example>"
    text = _text(note)
    assert "Maya is your point of contact" in text
    assert "Chen" not in text and MAYA not in text


# --------------------------------------------------------------------------- individual checks

def _findings_for(app: App, code: str, body: str, mid: str, args: str = "") -> str:
    file(app, make_mail(sender=MAYA, sender_name="Maya Chen",
                        subject=f"Note {_tag(code)} #draft {args}".strip(), body=body,
                        message_id=mid))
    return _last_transcript(app)


def test_identity_in_quoted_text_and_witnesses_and_times(app: App) -> None:
    code = _case(app)
    file(app, make_mail(sender=ALEX, sender_name="Alex Smith",
                        subject=f"Re: x #witness Wren Quill <wren@w.example> {_tag(code)}",
                        body="noted"))
    body = ("Draft-To: org@events.example\n\nHello,\n\nThe incident happened at 10:30pm on "
            "12 March near the venue. Wren Quill saw it.\n\n"
            "On Mon, 2 Nov 2026 at 10:15, Someone <jo.reporter@mail.example> wrote:\n"
            "> it was awful\n")
    text = _findings_for(app, code, body, "q1@example.org", "info")
    assert "reporter's email address" in text and "quoted or forwarded text" in text
    assert "witness's name" in text
    assert "10:30pm" in text and "12 March" in text
    assert "part" not in text  # "info": no four-part check


def test_draft_to_the_reporter_may_name_them(app: App) -> None:
    code = _case(app)
    body = "Draft-To: Jo Reporter <jo.reporter@mail.example>\n\nHi Jo,\n\nThanks for writing.\n"
    assert "no findings" in _findings_for(app, code, body, "r1@example.org")


def test_neutral_language_flags_gendered_words(app: App) -> None:
    code = _case(app)
    body = ("Draft-To: org@events.example\n\nHello,\n\nThe participant said he would leave; "
            "we thanked him.\n")
    assert "no findings" in _findings_for(app, code, body, "n1@example.org", "info")
    file(app, make_mail(sender=ALEX, sender_name="Alex Smith",
                        subject=f"Re: x #neutral {_tag(code)}", body="they/them"))
    # The same draft filed again (a new mail: identical content would be a replay).
    text = _findings_for(app, code, body + "\nRegards,\nMaya\n", "n2@example.org", "info")
    assert "gendered words" in text and "he" in text and "him" in text


def test_draft_outside_a_case_is_refused(app: App) -> None:
    file(app, make_mail(sender=MAYA, sender_name="Maya Chen", subject="Letter #draft",
                        body=CLEAN, message_id="lost@example.org"))
    assert "must belong to a case" in _last_transcript(app)
    assert not _events(app, "draft_filed")


def test_a_recipient_shut_out_of_the_case_is_refused(app: App) -> None:
    code = _case(app)
    file(app, make_mail(sender=SAM, sender_name="Sam Jones",
                        subject=f"Re: x {_tag(code)} #recuse", body="conflict"))
    text = _findings_for(app, code, f"Draft-To: Sam <{SAM}>\n\nHello Sam\n", "x1@example.org")
    assert "shut out of this case" in text
    assert not _events(app, "draft_filed")


def test_html_only_draft_is_read_and_sent_as_text(app: App) -> None:
    code = _case(app)
    html = ("<div>Draft-To: org@events.example</div><div><br></div>"
            "<div>Hello,</div><div>We would like to talk about a recent event.</div>")
    file(app, make_mail(sender=MAYA, sender_name="Maya Chen",
                        subject=f"Event {_tag(code)} #draft info", body="", html=html,
                        message_id="h1@example.org"))
    assert "no findings" in _last_transcript(app)
    _approve(app, code, "h1@example.org", ALEX, "ha@example.org")
    [sent] = _rows(app, "draft")
    assert sent.recipients == ["org@events.example", CONDUCT]
    assert _text(sent).replace("\r\n", "\n").startswith("Hello,\nWe would like to talk")
    msg = message_from_bytes(sent.raw, policy=policy.default)
    assert msg["Subject"] == "Event"


def test_a_new_version_supersedes_the_authors_waiting_draft(app: App) -> None:
    code = _case(app)
    _draft(app, code, BAD, "d1@example.org")
    _draft(app, code, CLEAN, "d2@example.org")
    _approve(app, code, "d1@example.org", ALEX, "a1@example.org", args="override old")
    assert "sent back for revision" in _last_transcript(app)
    assert _rows(app, "draft") == []


def test_backfilled_approval_sends_nothing(app: App) -> None:
    code = _case(app)
    _draft(app, code, CLEAN, "d2@example.org")
    file(app, make_mail(sender=ALEX, sender_name="Alex Smith",
                        subject=f"Re: Your conduct #approve {_tag(code)}", body="ok",
                        message_id="old@example.org", in_reply_to="d2@example.org"),
         backfill=True)
    assert _rows(app, "draft") == []
    assert not _events(app, "draft_sent")


def test_letter_skeleton_placeholders_are_a_finding(app: App) -> None:
    code = _case(app)
    body = CLEAN.replace("Please do not contact the people involved, and keep to the Code of "
                         "Conduct.", "[Concrete, specific expectations for behaviour going "
                         "forward.]")
    text = _findings_for(app, code, body, "p1@example.org")
    assert "1 bracketed placeholder" in text
