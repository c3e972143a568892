"""Member commands end to end: real Dovecot, real SMTP sink, `cocbot run --once` processes."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.botproc import e2e_config, run_cli
from tests.helpers import ALEX, CONDUCT, MAYA, REPORTER, make_mail
from tests.servers import Dovecot, SmtpSink

pytestmark = pytest.mark.e2e

REPORT_ID = "report-e2e@mail.example"
REPORT_SUBJECT = "Something happened at the meetup"


def cases(config: Path) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads(run_cli(config, "cases", "--json").stdout)
    return result


def sent_to(smtp: SmtpSink, address: str) -> list[Any]:
    return [m for m in smtp.messages if address in [r.lower() for r in m.rcpt_tos]]


def subject_of(captured: Any) -> str:
    msg = email.message_from_bytes(captured.content, policy=email.policy.default)
    return str(msg["Subject"])


def transcripts_to(smtp: SmtpSink, address: str) -> list[Any]:
    """Transcripts only (thread hygiene may also warn about the same message)."""
    return [m for m in sent_to(smtp, address) if "Commands processed" in subject_of(m)]


def body_of(captured: Any) -> str:
    msg = email.message_from_bytes(captured.content, policy=email.policy.default)
    part = msg.get_body(("plain",))
    return f"Subject: {msg['Subject']}\n\n{part.get_content()}"


@pytest.fixture
def setup(tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink) -> tuple[Path, str]:
    """A bot with one filed report; returns (config, case slug)."""
    # Nothing here is old mail: without a cut-off, mail appended within the first
    # run's second would be filed silently as backfill.
    config = e2e_config(tmp_path, fresh_inbox, smtp_sink,
                        intake={"backfill_before": "2000-01-01"})
    run_cli(config, "db", "upgrade")
    fresh_inbox.append(make_mail(message_id=REPORT_ID, subject=REPORT_SUBJECT,
                                 body="Someone at the meetup kept interrupting me."))
    run_cli(config, "run", "--once")
    [case] = cases(config)
    return config, case["code"].replace(" ", "-")


def test_member_resolves_by_subject_tag(setup: tuple[Path, str], fresh_inbox: Dovecot,
                                        smtp_sink: SmtpSink) -> None:
    config, slug = setup
    to_reporter = len(sent_to(smtp_sink, REPORTER))
    fresh_inbox.append(make_mail(
        sender=ALEX, sender_name="Alex Smith", to=[CONDUCT],
        subject=f"Re: [CoC {slug}] {REPORT_SUBJECT} #resolve",
        body="Handled at the meetup, closing.", message_id="close@example.org",
        in_reply_to=REPORT_ID, references=[REPORT_ID]))
    run_cli(config, "run", "--once")

    [case] = cases(config)
    assert case["status"] == "Resolved"
    assert case["resolution_source"] == "CoC WG"
    assert case["resolution_date"] == datetime.now(UTC).date().isoformat()
    assert "close@example.org" in case["message_ids"]

    [transcript] = transcripts_to(smtp_sink, ALEX)
    assert transcript.rcpt_tos == [ALEX]
    text = body_of(transcript)
    assert f"[CoC {slug}]" in text and "> #resolve" in text and "0 errors" in text
    assert REPORTER not in text and "interrupting" not in text
    # The reporter got the initial acknowledgement at most, nothing about the command.
    assert len(sent_to(smtp_sink, REPORTER)) == to_reporter <= 1

    # Running again (restart) changes and sends nothing more.
    run_cli(config, "run", "--once")
    assert len(transcripts_to(smtp_sink, ALEX)) == 1
    assert cases(config) == [case]


def test_unauthenticated_command_is_held_and_chair_told(
    setup: tuple[Path, str], fresh_inbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    config, slug = setup
    fresh_inbox.append(make_mail(
        sender=ALEX, subject=f"Re: [CoC {slug}] {REPORT_SUBJECT} #resolve",
        message_id="forged@example.org", in_reply_to=REPORT_ID, authenticated=False))
    run_cli(config, "run", "--once")
    [case] = cases(config)
    assert case["status"] == "Ongoing"
    assert transcripts_to(smtp_sink, ALEX) == []
    [notice] = [m for m in sent_to(smtp_sink, MAYA) if "held" in subject_of(m)]
    text = body_of(notice)
    assert "held" in text and slug.replace("-", " ") in text
    assert "no Authentication-Results" in text
