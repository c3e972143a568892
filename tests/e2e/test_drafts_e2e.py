"""Draft review end to end: real Dovecot, real SMTP sink, `cocbot run --once`."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.botproc import e2e_config, run_cli
from tests.helpers import ALEX, CONDUCT, MAYA, SAM, make_mail
from tests.integration.test_drafts import BAD, CLEAN, PARTY, REPORT
from tests.servers import Dovecot, SmtpSink

pytestmark = pytest.mark.e2e

REPORT_ID = "report-drafts@mail.example"


def _case(config: Path) -> dict[str, Any]:
    [case] = json.loads(run_cli(config, "cases", "--json").stdout)
    return dict(case)


def _to(smtp: SmtpSink, address: str) -> list[email.message.EmailMessage]:
    out = []
    for m in smtp.messages:
        if address in [r.lower() for r in m.rcpt_tos]:
            msg = email.message_from_bytes(m.content, policy=email.policy.default)
            assert isinstance(msg, email.message.EmailMessage)
            out.append(msg)
    return out


def _body(msg: email.message.EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _transcripts(smtp: SmtpSink, address: str) -> list[str]:
    return [_body(m) for m in _to(smtp, address) if "Commands processed" in str(m["Subject"])]


def test_draft_review_end_to_end(tmp_path: Path, fresh_inbox: Dovecot,
                                 smtp_sink: SmtpSink) -> None:
    config = e2e_config(tmp_path, fresh_inbox, smtp_sink,
                        intake={"backfill_before": "2000-01-01"})
    run_cli(config, "db", "upgrade")
    fresh_inbox.append(make_mail(message_id=REPORT_ID, subject="Behaviour at the sprint",
                                 body=REPORT))
    run_cli(config, "run", "--once")
    slug = _case(config)["code"].replace(" ", "-")
    tag = f"[CoC {slug}]"

    def send(sender: str, subject: str, body: str, mid: str, reply: str | None = None) -> None:
        fresh_inbox.append(make_mail(sender=sender, sender_name="Member", to=[CONDUCT],
                                     subject=f"{subject} {tag}", body=body, message_id=mid,
                                     in_reply_to=reply))

    # Sam recuses (stands in for an excluded member).
    send(SAM, "Re: sprint #recuse", "I know them.", "rec@example.net")
    # A draft naming the reporter, quoting 12+ words of the report, no consequences.
    send(MAYA, "Your conduct at the sprint #draft", BAD, "d1@example.org")
    run_cli(config, "run", "--once")
    first = _transcripts(smtp_sink, MAYA)[-1]
    assert "3 findings" in first
    assert "reporter's name" in first and "words copied" in first and "consequences" in first
    assert _to(smtp_sink, PARTY) == []

    send(ALEX, "Re: Your conduct #revise please remove the name and the quote", "x",
         "rv@example.org", reply="d1@example.org")
    send(MAYA, "Your conduct at the sprint #draft", CLEAN, "d2@example.org")
    run_cli(config, "run", "--once")
    assert "no findings" in _transcripts(smtp_sink, MAYA)[-1]

    send(MAYA, "Re: Your conduct #approve", "mine", "a0@example.org", reply="d2@example.org")
    send(SAM, "Re: Your conduct #approve", "ok", "a1@example.net", reply="d2@example.org")
    run_cli(config, "run", "--once")
    assert "second member" in _transcripts(smtp_sink, MAYA)[-1]
    assert "recused" in _transcripts(smtp_sink, SAM)[-1]
    assert _to(smtp_sink, PARTY) == []

    send(ALEX, "Re: Your conduct #approve", "Looks right.", "a2@example.org",
         reply="d2@example.org")
    run_cli(config, "run", "--once")
    assert "approved and queued" in _transcripts(smtp_sink, ALEX)[-1]
    [letter] = _to(smtp_sink, PARTY)
    assert letter["From"].addresses[0].addr_spec == CONDUCT
    assert CONDUCT in str(letter["Cc"])
    assert str(letter["Subject"]) == "Your conduct at the sprint"
    text = _body(letter)
    assert "Draft-To" not in text and "#" not in text and "Consequences:" in text
    assert "Jo" not in text and "jo.reporter" not in letter.as_string()

    # The reported party's reply threads into the case by the letter's Message-ID.
    letter_id = str(letter["Message-ID"]).strip("<>")
    fresh_inbox.append(make_mail(sender=PARTY, sender_name="Pat Party", to=[CONDUCT],
                                 subject="Re: Your conduct at the sprint", body="Understood.",
                                 message_id="party-reply@elsewhere.example",
                                 in_reply_to=letter_id, references=[letter_id]))
    run_cli(config, "run", "--once")
    case = _case(config)
    assert "party-reply@elsewhere.example" in case["message_ids"]
    assert len(_to(smtp_sink, PARTY)) == 1
