"""Thread hygiene end to end: real Dovecot, real SMTP sink, `cocbot run --once` processes.

The issue's acceptance scenarios: a member's reply adding an outsider without
``[+ Name]`` gets exactly one warning, with the note none; removing someone without
``[- Name]`` warns; the conduct address only in Bcc warns; a reply citing a message
the bot never saw alerts the point of contact, and forwarding that message in files
it into the case; a member's mail to the reported party carrying the reporter's
address is caught and a clean one is not.  Nothing ever goes to an outsider.
"""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.botproc import e2e_config, run_cli
from tests.helpers import ALEX, CONDUCT, MAYA, REPORTER, auth_header, make_mail
from tests.servers import CapturedMessage, Dovecot, SmtpSink

pytestmark = pytest.mark.e2e

REPORT_ID = "report-hyg@mail.example"
REPORT_BODY = "Someone at the meetup kept interrupting me."
PARTY = "kim.party@else.example"
MOD = "mod@forum.example"
OUTSIDERS = (PARTY, MOD)


def sent_to(smtp: SmtpSink, address: str) -> list[CapturedMessage]:
    """Mail the bot sent to `address`, except the chair's daily digest.

    These tests run on the wall clock, and after the digest time (08:00 UTC) the
    first `run --once` also sends the day's digest; that mail is tested in
    test_digest_e2e.py, not here.
    """
    return [m for m in smtp.messages if address in [r.lower() for r in m.rcpt_tos]
            and not str(m.message["Subject"]).startswith("Code of Conduct digest")]


def text_of(captured: CapturedMessage) -> str:
    msg = email.message_from_bytes(captured.content, policy=email.policy.default)
    part = msg.get_body(("plain",))
    assert part is not None
    return f"Subject: {msg['Subject']}\n\n{part.get_content()}"


def hygiene_to(smtp: SmtpSink, address: str, marker: str) -> list[str]:
    """Texts of the mails to `address` whose text contains `marker`."""
    return [t for t in (text_of(m) for m in sent_to(smtp, address)) if marker in t]


def assert_nothing_outside(smtp: SmtpSink) -> None:
    """Only the acknowledgement ever goes outside the group; outsiders get nothing."""
    for outsider in OUTSIDERS:
        assert sent_to(smtp, outsider) == []
    assert len(sent_to(smtp, REPORTER)) <= 1
    for m in smtp.messages:
        assert REPORT_BODY not in text_of(m)


@pytest.fixture
def bot(tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink) -> tuple[Path, str]:
    """A bot with one filed report; returns (config, case slug)."""
    config = e2e_config(tmp_path, fresh_inbox, smtp_sink,
                        intake={"backfill_before": "2000-01-01"})
    run_cli(config, "db", "upgrade")
    fresh_inbox.append(make_mail(message_id=REPORT_ID, subject="Meetup", body=REPORT_BODY))
    run_cli(config, "run", "--once")
    [case] = json.loads(run_cli(config, "cases", "--json").stdout)
    return config, case["code"].replace(" ", "-")


def reply(sender: str, message_id: str, *, to: tuple[str, ...] = (REPORTER,),
          cc: tuple[str, ...] = (CONDUCT,), body: str = "Hi Jo,\n\nThanks.",
          parent: str = REPORT_ID, refs: tuple[str, ...] = (REPORT_ID,),
          subject: str = "Re: Meetup") -> bytes:
    names = {MAYA: "Maya Chen", ALEX: "Alex Smith"}
    return make_mail(sender=sender, sender_name=names.get(sender, ""), to=to, cc=cc,
                     subject=subject, body=body, message_id=message_id, in_reply_to=parent,
                     references=list(refs))


def test_adding_an_outsider_warns_exactly_once(bot: tuple[Path, str], fresh_inbox: Dovecot,
                                               smtp_sink: SmtpSink) -> None:
    config, slug = bot
    fresh_inbox.append(reply(MAYA, "m1@example.org", cc=(CONDUCT, f"Forum Moderator <{MOD}>")))
    run_cli(config, "run", "--once")
    [warning] = sent_to(smtp_sink, MAYA)
    assert warning.rcpt_tos == [MAYA]
    text = text_of(warning)
    assert f"[CoC {slug}]" in text and "Added without a [+ Name] note" in text
    assert MOD in text and "[+ Forum Moderator]" in text
    # A restart sends nothing more; a second reply with the same problem neither.
    run_cli(config, "run", "--once")
    fresh_inbox.append(reply(MAYA, "m2@example.org", cc=(CONDUCT, f"Forum Moderator <{MOD}>"),
                             body="One more thing."))
    run_cli(config, "run", "--once")
    assert len(sent_to(smtp_sink, MAYA)) == 1
    assert_nothing_outside(smtp_sink)


def test_the_same_reply_with_the_note_gets_nothing(bot: tuple[Path, str],
                                                   fresh_inbox: Dovecot,
                                                   smtp_sink: SmtpSink) -> None:
    config, _ = bot
    fresh_inbox.append(reply(MAYA, "m1@example.org", cc=(CONDUCT, f"Forum Moderator <{MOD}>"),
                             body="[+ Forum Moderator]\n\nHi Jo, I added the moderator."))
    run_cli(config, "run", "--once")
    assert sent_to(smtp_sink, MAYA) == []
    assert_nothing_outside(smtp_sink)


def test_removing_without_a_note_warns(bot: tuple[Path, str], fresh_inbox: Dovecot,
                                       smtp_sink: SmtpSink) -> None:
    config, _ = bot
    fresh_inbox.append(reply(MAYA, "m1@example.org", cc=(CONDUCT, f"Forum Moderator <{MOD}>"),
                             body="[+ Forum Moderator]"))
    fresh_inbox.append(reply(MAYA, "m2@example.org", parent="m1@example.org",
                             refs=(REPORT_ID, "m1@example.org"), body="Just the two of us."))
    run_cli(config, "run", "--once")
    [warning] = sent_to(smtp_sink, MAYA)
    text = text_of(warning)
    assert "Removed without a [- Name] note" in text and "[- Forum Moderator]" in text
    assert_nothing_outside(smtp_sink)


def test_conduct_address_only_in_bcc_warns(bot: tuple[Path, str], fresh_inbox: Dovecot,
                                           smtp_sink: SmtpSink) -> None:
    config, slug = bot
    fresh_inbox.append(reply(ALEX, "a1@example.org", cc=()))  # conduct only as Bcc
    run_cli(config, "run", "--once")
    [warning] = sent_to(smtp_sink, ALEX)
    assert warning.rcpt_tos == [ALEX]
    text = text_of(warning)
    assert f"[CoC {slug}]" in text and "Conduct address not copied" in text
    assert f"cc {CONDUCT}" in text
    assert_nothing_outside(smtp_sink)


def forward_as_attachment(raw: bytes, subject: str) -> bytes:
    outer = EmailMessage()
    outer["Authentication-Results"] = auth_header("example.org")
    outer["From"] = f"Alex Smith <{ALEX}>"
    outer["To"] = CONDUCT
    outer["Subject"] = subject
    outer["Date"] = format_datetime(datetime.now(UTC))
    outer["Message-ID"] = "<fwd@example.org>"
    outer.set_content("Forwarding Kim's reply, which missed the conduct address.")
    outer.add_attachment(email.message_from_bytes(raw, policy=email.policy.default))
    return outer.as_bytes()


def case_detail(config: Path, slug: str) -> dict[str, Any]:
    detail: dict[str, Any] = json.loads(run_cli(config, "case", slug, "--json").stdout)
    return detail


def test_unseen_reply_alerts_point_of_contact_and_forward_closes_it(
    bot: tuple[Path, str], fresh_inbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    config, slug = bot
    # Alex becomes the point of contact (an internal reply: no notes needed).
    fresh_inbox.append(reply(ALEX, "contact@example.org", to=(CONDUCT,), cc=(),
                             subject=f"Re: [CoC {slug}] Meetup #contact quiet",
                             body="I'll take it."))
    subject = f"[CoC {slug}] Our concern"
    fresh_inbox.append(make_mail(sender=MAYA, sender_name="Maya Chen",
                                 to=(f"Kim Party <{PARTY}>",), cc=(CONDUCT,), subject=subject,
                                 message_id="m1@example.org", body="Hello Kim, can we talk?"))
    run_cli(config, "run", "--once")
    assert case_detail(config, slug)["point_of_contact"] == ALEX
    # Kim answered Maya alone (g1, never seen); Maya's answer cites it.
    fresh_inbox.append(reply(MAYA, "m2@example.org", to=(f"Kim Party <{PARTY}>",),
                             subject=f"Re: {subject}", parent="g1@else.example",
                             refs=("m1@example.org", "g1@else.example"), body="Thanks, Kim."))
    run_cli(config, "run", "--once")
    [alert] = hygiene_to(smtp_sink, ALEX, "never reached")
    # Member-only alerts carry the code name, never the thread's subject.
    assert slug.replace("-", " ") in alert and "Our concern" not in alert.split("\n", 1)[1]
    assert hygiene_to(smtp_sink, MAYA, "never reached") == []

    # Maya forwards Kim's reply to the conduct address: filed into the case.
    kims_reply = make_mail(sender=PARTY, sender_name="Kim Party", to=(MAYA,),
                           subject=f"Re: {subject}", message_id="g1@else.example",
                           in_reply_to="m1@example.org", references=["m1@example.org"],
                           body="I did nothing wrong.")
    fresh_inbox.append(forward_as_attachment(kims_reply, f"Fwd: Re: {subject}"))
    run_cli(config, "run", "--once")
    cases = json.loads(run_cli(config, "cases", "--json").stdout)
    assert len(cases) == 1 and "g1@else.example" in cases[0]["message_ids"]
    [filed] = [m for m in case_detail(config, slug)["messages"]
               if m["message_id"] == "g1@else.example"]
    assert filed["kind"] == "forwarded" and filed["from"] == PARTY

    # The thread goes on; no new alert.
    fresh_inbox.append(reply(MAYA, "m3@example.org", to=(f"Kim Party <{PARTY}>",),
                             subject=f"Re: {subject}", parent="g1@else.example",
                             refs=("m1@example.org", "g1@else.example", "m2@example.org"),
                             body="Following up."))
    run_cli(config, "run", "--once")
    assert len(hygiene_to(smtp_sink, ALEX, "never reached")) == 1
    assert_nothing_outside(smtp_sink)


def test_reporter_address_to_reported_party_is_caught_clean_mail_is_not(
    bot: tuple[Path, str], fresh_inbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    config, slug = bot
    subject = f"[CoC {slug}] Our concern"
    fresh_inbox.append(make_mail(sender=MAYA, sender_name="Maya Chen",
                                 to=(f"Kim Party <{PARTY}>",), cc=(CONDUCT,), subject=subject,
                                 message_id="clean@example.org",
                                 body="Hello Kim,\n\nWe received a report about the meetup "
                                      "and would like to hear your side."))
    run_cli(config, "run", "--once")
    assert sent_to(smtp_sink, MAYA) == []
    fresh_inbox.append(make_mail(sender=MAYA, sender_name="Maya Chen",
                                 to=(f"Kim Party <{PARTY}>",), cc=(CONDUCT,),
                                 subject=f"Re: {subject}", message_id="leak@example.org",
                                 in_reply_to="clean@example.org",
                                 references=["clean@example.org"],
                                 body=f"Hello Kim,\n\n{REPORTER} told us what happened."))
    run_cli(config, "run", "--once")
    [warning] = sent_to(smtp_sink, MAYA)
    assert warning.rcpt_tos == [MAYA]
    text = text_of(warning)
    assert "email address" in text and "disclose identities of reporters" in text
    assert REPORTER not in text
    assert_nothing_outside(smtp_sink)
