"""Values strangers control never reach a header of the bot's mail unsanitised.

Subjects, display names and addresses arrive with CR/LF (raw and inside RFC 2047
encoded words), NUL and other control characters, and at absurd length; they
reach members' mail (transcripts, private warnings, alerts, held-command
notices) as well as the reporter's acknowledgement.  Every mail the bot queues
must keep a header block of exactly the headers it writes, each once, each on
lines that parse back without a line break or control character.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default
from email.utils import format_datetime

import pytest
from sqlmodel import Session, col, select

from bot.core.app import App
from bot.store.codenames import subject_tag
from bot.store.models import Outbox
from tests.helpers import ALEX, CONDUCT, MAYA, REPORTER, auth_header, file, make_app

BOT_HEADERS = {"from", "to", "cc", "subject", "date", "message-id", "in-reply-to",
               "references", "auto-submitted", "x-auto-response-suppress", "mime-version",
               "content-type", "content-transfer-encoding"}
INJECT = "=?utf-8?q?x=0D=0ABcc:_attacker@evil.example=0D=0AX-Evil:_1=00?="
LONG = "=?utf-8?q?" + "W" * 2000 + "?="
NASTY = f"{INJECT} \x00 {LONG} #safety no"


@pytest.fixture
def app(db_url: str) -> App:
    return make_app(db_url)


def deliver(app: App, raw: bytes) -> str | None:
    return file(app, raw).case_code


def mail(lines: list[str], body: str = "Hello.") -> bytes:
    # Dated now: command mail older than a week is held.
    date = format_datetime(datetime.now(UTC))
    return ("\r\n".join([*lines, f"Date: {date}", "", body, ""])
            .encode("utf-8", "surrogateescape"))


def check_header_block(row: Outbox) -> None:
    head = row.raw.split(b"\r\n\r\n", 1)[0]
    assert b"\x00" not in row.raw
    names: list[str] = []
    for line in head.split(b"\r\n"):
        assert b"\r" not in line and b"\n" not in line
        assert len(line) <= 998
        if line[:1] in (b" ", b"\t"):
            continue
        name, sep, _value = line.partition(b":")
        assert sep, line
        names.append(name.decode("ascii").lower())
    assert set(names) <= BOT_HEADERS, names
    assert len(names) == len(set(names)), names
    msg = message_from_bytes(row.raw, policy=default)
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    for key, value in msg.items():
        assert not re.search(r"[\x00-\x1f\x7f]", str(value)), (key, value)
    assert len(str(msg["Subject"])) <= 600


def test_hostile_subjects_and_names_reach_no_header(app: App) -> None:
    code = deliver(app, mail([
        f"From: =?utf-8?q?Jo=0D=0AReporter=00?= <{REPORTER}>",
        f"To: {CONDUCT}", f"Subject: {NASTY}", "Message-ID: <r1@mail.example>",
    ]))
    assert code is not None
    tag = subject_tag(code)
    # The chair answers with commands, copying an outsider whose display name is hostile
    # (so: a transcript, a private warning, a recipient-change warning).
    deliver(app, mail([
        f"Authentication-Results: {auth_header('example.org')}",
        f"From: Maya Chen <{MAYA}>",
        f"To: {CONDUCT}",
        "Cc: =?utf-8?q?Quinn=0D=0ABcc:_attacker@evil.example?= <quinn@forum.example>,"
        " \"Robin\x00\x1b[2J\" <robin@forum.example>",
        f"Subject: Re: {NASTY} {tag} #contact #resolv",
        "Message-ID: <m1@example.org>", "In-Reply-To: <r1@mail.example>",
        "References: <r1@mail.example>",
    ]))
    # The same command from a member who cannot be authenticated: held, chairs told.
    deliver(app, mail([
        f"From: Alex <{ALEX}>", f"To: {CONDUCT}", f"Subject: Re: {NASTY} {tag} #resolve",
        "Message-ID: <a1@example.org>", "In-Reply-To: <m1@example.org>",
        "References: <r1@mail.example> <m1@example.org>",
    ]))
    # An outsider on the thread adds people, one with a hostile name, and cites a
    # message the group never saw (alerts to the point of contact).
    deliver(app, mail([
        "From: Quinn <quinn@forum.example>", f"To: {CONDUCT}, {MAYA}",
        "Cc: =?utf-8?q?Eve=0D=0ABcc:_attacker@evil.example?= <eve@else.example>",
        f"Subject: Re: {NASTY} {tag}", "Message-ID: <q1@forum.example>",
        "In-Reply-To: <unseen@forum.example>",
        "References: <r1@mail.example> <m1@example.org> <unseen@forum.example>",
    ]))

    with Session(app.engine) as session:
        rows = session.exec(select(Outbox).order_by(col(Outbox.id))).all()
    kinds = {r.kind for r in rows}
    assert {"acknowledgement", "transcript", "warning", "command_held", "alert"} <= kinds, kinds
    for row in rows:
        check_header_block(row)
