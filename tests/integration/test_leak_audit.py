"""The confidentiality promise, audited across everything the bot sends.

A busy fortnight: several reports (one about physical danger, one from an
auto-responder), members replying, commands, a member writing to the reported
party, reminders and digests.  Then every mail in the outbox is checked:

- to anyone outside the group: no other person's address, no text or subject
  of anyone else's report, no other case's code name;
- to members: no report text at all in the bot's automatic mail (transcripts,
  warnings, reminders, digests say code names and dates, not what happened).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from email.policy import default

from sqlmodel import Session, col, select

from bot.clocks.scheduler import run_due
from bot.core.app import App
from bot.filing.context import Origin
from bot.filing.pipeline import process_message
from bot.store.db import session_scope
from bot.store.models import Case, Outbox
from tests.helpers import ALEX, CONDUCT, MAYA, MEMBERS, SAM, make_app, make_mail

START = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # a Monday

REPORTS = {
    # reporter: (name, subject, a phrase from the body only they wrote)
    "jo.reporter@mail.example": ("Jo Reporter", "Comments in the forum thread",
                                 "kept calling me clueless under my pull request"),
    "kim.witness@else.example": ("Kim Witness", "Something at the sprint",
                                 "followed me to the hotel and said I was not safe"),
    "lee@third.example": ("Lee Third", "Discord messages",
                          "sent private messages about my appearance"),
}
PARTY = "reported.party@party.example"
MEMBER_ADDRESSES = {m["email"] for m in MEMBERS} | {a for m in MEMBERS
                                                     for a in m.get("aliases", [])}
ADDRESS_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


ID_HEADERS = {"message-id", "in-reply-to", "references"}


def text_of(msg: Message) -> str:
    """Headers (less the Message-ID ones, which look like addresses) and text parts."""
    parts = [f"{k}: {v}" for k, v in msg.items() if k.lower() not in ID_HEADERS]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


def test_nothing_leaks_in_a_busy_fortnight(db_url: str) -> None:
    now = [START]
    app: App = make_app(db_url, local_representatives=[])
    app.clock = lambda: now[0]

    def deliver(raw: bytes) -> str | None:
        with session_scope(app.engine) as session:
            return process_message(app, session, raw, Origin(source="test",
                                                             received_at=now[0])).case_code

    codes: dict[str, str] = {}
    for i, (reporter, (name, subject, phrase)) in enumerate(REPORTS.items()):
        now[0] = START + timedelta(minutes=10 * i)
        code = deliver(make_mail(sender=reporter, sender_name=name, subject=subject,
                                 body=f"Hello,\n\n{phrase}.\n\nThanks", message_id=f"r{i}@x"))
        assert code is not None
        codes[reporter] = code
    # An auto-responder writes in too; and an outsider quotes a code name.
    deliver(make_mail(sender="noreply@bot.example", subject="Automatic reply: away",
                      message_id="auto@x", headers={"Auto-Submitted": "auto-replied"}))
    jo, kim = "jo.reporter@mail.example", "kim.witness@else.example"
    now[0] = START + timedelta(hours=3)
    # The chair answers Jo (reply-all) and becomes point of contact.
    deliver(make_mail(sender=MAYA, sender_name="Maya Chen", to=[jo], cc=[CONDUCT],
                      subject=f"Re: {REPORTS[jo][1]} #contact", message_id="m1@example.org",
                      date=now[0],
                      in_reply_to="r0@x", references=["r0@x"],
                      body="Hi Jo, I am your point of contact.\n\n> "
                           + REPORTS[jo][2]))
    # Alex writes to the reported party, carelessly quoting Jo's address.
    deliver(make_mail(sender=ALEX, sender_name="Alex Smith", to=[PARTY], cc=[CONDUCT],
                      subject="A conversation about the forum", message_id="a1@example.org",
                      in_reply_to="m1@example.org", references=["r0@x", "m1@example.org"],
                      body=f"[+ Reported Party]\n[- Jo]\nHello, {jo} raised a concern."))
    # Sam recuses from Kim's case; Alex resolves Lee's case with an outsider in Cc.
    deliver(make_mail(sender=SAM, sender_name="Sam Jones", to=[CONDUCT],
                      subject=f"Re: {REPORTS[kim][1]} #recuse", message_id="s1@example.net",
                      date=now[0],
                      in_reply_to="r1@x", references=["r1@x"], body="[- Kim]\nConflict."))
    deliver(make_mail(sender=ALEX, sender_name="Alex Smith", to=[CONDUCT],
                      cc=["moderator@mods.example"],
                      subject=f"Re: {REPORTS['lee@third.example'][1]} #resolve",
                      message_id="a2@example.org", in_reply_to="r2@x", references=["r2@x"],
                      date=now[0],
                      body="[- Lee]\n[+ Moderator]\nDone."))
    # A fortnight of scheduler runs: reminders and digests every few hours.
    for hours in range(6, 24 * 15, 5):
        now[0] = START + timedelta(hours=hours)
        run_due(app)

    with Session(app.engine) as session:
        rows = session.exec(select(Outbox).order_by(col(Outbox.id))).all()
        all_codes = {c.code for c in session.exec(select(Case)).all()}
    assert rows, "the scenario should make the bot send mail"
    kinds = {r.kind for r in rows}
    assert {"acknowledgement", "transcript", "digest"} <= kinds, kinds

    everyone = set(REPORTS) | {PARTY, "moderator@mods.example", "noreply@bot.example"}
    for row in rows:
        msg = message_from_bytes(row.raw, policy=default)
        body = text_of(msg)
        lowered = body.lower()
        outsiders = [r for r in row.recipients if r not in MEMBER_ADDRESSES and r != CONDUCT]
        for rcpt in outsiders:
            assert rcpt in REPORTS, f"{row.kind} went to {rcpt}, who never wrote to the group"
            own_code = codes[rcpt]
            for other in everyone - {rcpt}:
                assert other not in lowered, f"{row.kind} to {rcpt} names {other}"
            for addr in ADDRESS_RE.findall(body):
                assert addr.lower() in {rcpt, CONDUCT}, f"{row.kind} to {rcpt} shows {addr}"
            for reporter, (name, subject, phrase) in REPORTS.items():
                if reporter != rcpt:
                    assert phrase not in body and subject not in body and name not in body
            for code in all_codes - {own_code}:
                assert code not in body and code.replace(" ", "-") not in body
            # Not even their own report text is quoted back.
            assert REPORTS[rcpt][2] not in body
        if not outsiders:
            for reporter, (name, _subject, phrase) in REPORTS.items():
                assert phrase not in body, f"{row.kind} to members quotes a report"
                if row.kind in {"digest", "reminder"}:
                    assert reporter not in lowered and name not in body
