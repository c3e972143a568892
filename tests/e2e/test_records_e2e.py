"""Records end to end: two reports about one person (address written differently) through
real Dovecot, `cocbot run --once` and a real SMTP sink."""

from __future__ import annotations

import csv
import email
import email.policy
import io
from pathlib import Path
from typing import Any

import pytest

from bot.records.export import COLUMNS
from bot.records.identitykey import generate_key
from tests.e2e.botproc import e2e_config, run_cli
from tests.helpers import ALEX, CONDUCT, MAYA, MEMBERS, SAM, make_mail
from tests.servers import Dovecot, SmtpSink

pytestmark = pytest.mark.e2e

CHRIS = "chris@example.org"  # a second chair, recused from the second case
SECRETS = ("quentin", "quibble", "qquibble")


def body_of(captured: Any) -> str:
    msg = email.message_from_bytes(captured.content, policy=email.policy.default)
    part = msg.get_body(("plain",))
    return f"Subject: {msg['Subject']}\n\n{part.get_content()}"


def test_two_reports_about_one_person(tmp_path: Path, fresh_inbox: Dovecot,
                                      smtp_sink: SmtpSink) -> None:
    key = tmp_path / "identity.key"
    key.write_text(generate_key())
    members = [*MEMBERS, {"name": "Chris Chair", "email": CHRIS, "role": "chair"}]
    config = e2e_config(tmp_path, fresh_inbox, smtp_sink, members=members,
                        identity={"key_file": str(key)},
                        intake={"backfill_before": "2000-01-01"})
    run_cli(config, "db", "upgrade")
    # All in one intake run, filed in arrival order: report, #person, second report,
    # a chair's recusal from it, #person again with the address written differently.
    fresh_inbox.append(make_mail(sender="first.reporter@mail.example", message_id="r1@mail.example",
                                 subject="Rude replies on the forum",
                                 body="A user kept replying rudely to my forum posts."))
    fresh_inbox.append(make_mail(sender=ALEX, to=[CONDUCT], subject="Re: Rude replies",
                                 body="#person Quentin Quibble <Q.Quibble+forum@Example.org>\n\n"
                                      "Recording who this is about.",
                                 message_id="p1@example.org", in_reply_to="r1@mail.example",
                                 references=["r1@mail.example"]))
    fresh_inbox.append(make_mail(sender="second.reporter@mail.example",
                                 message_id="r2@mail.example", subject="Harassment in DMs",
                                 body="Someone keeps messaging me after I asked them to stop."))
    fresh_inbox.append(make_mail(sender=CHRIS, to=[CONDUCT], subject="Re: Harassment in DMs",
                                 body="#recuse\n\nI know the reporter.",
                                 message_id="x1@example.org", in_reply_to="r2@mail.example",
                                 references=["r2@mail.example"], authenticated=True))
    fresh_inbox.append(make_mail(sender=SAM, to=[CONDUCT], subject="Re: Harassment in DMs",
                                 body="#person Quentin Quibble <qquibble@example.org>",
                                 message_id="p2@example.net", in_reply_to="r2@mail.example",
                                 references=["r2@mail.example"]))
    run_cli(config, "run", "--once")

    notices = [m for m in smtp_sink.messages if "has been reported before" in body_of(m)]
    assert len(notices) == 1
    assert [r.lower() for r in notices[0].rcpt_tos] == [MAYA]  # not the recused chair
    text = body_of(notices[0])
    assert "1 earlier case (ongoing)" in text
    assert not any(s in text.lower() for s in SECRETS)

    exported = run_cli(config, "export", "records").stdout
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == list(COLUMNS)
    assert len(rows) == 3
    person_codes = {r[2] for r in rows[1:]}
    assert len(person_codes) == 1 and "" not in person_codes
    assert len({r[1] for r in rows[1:]}) == 2
    assert person_codes.pop() in text

    # Every mail the bot sent, and its database, hold no trace of the name or address.
    for captured in smtp_sink.messages:
        assert not any(s in captured.content.decode("utf-8", "replace").lower()
                       for s in SECRETS)
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("cocbot.db*")).lower()
    for secret in SECRETS:
        assert secret.encode() not in blob, secret
    assert b"first.reporter@mail.example" in blob  # the search does see stored mail
    assert ALEX not in [r.lower() for n in notices for r in n.rcpt_tos]
