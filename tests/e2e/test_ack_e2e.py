"""Acknowledgements end to end: real Dovecot, real SMTP server, `cocbot run` in a subprocess."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bot.mail.msgids import own_case_id
from tests.e2e.botproc import BotProcess, db_rows, e2e_config, run_cli, wait_until
from tests.helpers import CONDUCT, REPORTER, make_mail
from tests.servers import Dovecot, SmtpSink

pytestmark = pytest.mark.e2e

REPORT_ID = "report-ack-e2e@mail.example"
SUBJECT = "Harassment in the forum"


def setup(tmp_path: Path, dovecot: Dovecot, smtp: SmtpSink) -> Path:
    # No cut-off from the first run: every message appended by these tests is new mail.
    config = e2e_config(tmp_path, dovecot, smtp, intake={"backfill_before": "2000-01-01"})
    run_cli(config, "db", "upgrade")
    return config


def wait_running(bot: BotProcess) -> None:
    """Until the bot's IMAP intake is connected (it logs that)."""
    assert wait_until(lambda: "imap connected" in bot.log_text() or not bot.alive(), 20), \
        bot.log_text()
    assert bot.alive(), bot.log_text()


def report() -> bytes:
    return make_mail(message_id=REPORT_ID, subject=SUBJECT, references=["older@mail.example"],
                     body="A user keeps sending me insulting private messages.")


def test_report_gets_exactly_one_acknowledgement_quickly(
    tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    config = setup(tmp_path, fresh_inbox, smtp_sink)
    with BotProcess(config) as bot:
        wait_running(bot)
        started = time.monotonic()
        fresh_inbox.append(report())
        [ack] = smtp_sink.wait_for(1, timeout=2.0)
        elapsed = time.monotonic() - started
        assert elapsed < 2.0

        msg = ack.message
        [(code,)] = db_rows(config, "select code from 'case'")
        [(case_id,)] = db_rows(config, "select id from 'case'")
        assert ack.mail_from == CONDUCT
        assert ack.rcpt_tos == [REPORTER, CONDUCT]
        assert msg["From"] == f"Django Code of Conduct Working Group <{CONDUCT}>"
        assert msg["To"] == REPORTER
        assert msg["Cc"] == CONDUCT
        assert msg["In-Reply-To"] == f"<{REPORT_ID}>"
        assert msg["References"] == f"<older@mail.example> <{REPORT_ID}>"
        assert msg["Auto-Submitted"] == "auto-replied"
        assert msg["Subject"] == "Your report to the Django Code of Conduct Working Group"
        assert code.replace(" ", "-") not in msg["Subject"]
        ack_id = msg["Message-ID"].strip("<>")
        assert own_case_id("test-secret", ack_id) == case_id

        # The copy Cc'd to the conduct address comes back through the inbox:
        # filed into the case as the bot's own mail, never a new report, never answered.
        fresh_inbox.append(ack.content)
        assert wait_until(lambda: db_rows(
            config, f"select kind, case_id from inboundmessage where message_id = '{ack_id}'"),
            10) == [("own", case_id)]
        time.sleep(1.0)
        assert len(smtp_sink.messages) == 1
        assert len(db_rows(config, "select id from 'case'")) == 1

    # Restart and rerun: nothing more is sent.
    with BotProcess(config) as bot:
        wait_running(bot)
        time.sleep(2.0)
    run_cli(config, "run", "--once")
    assert len(smtp_sink.messages) == 1
    [(status, attempts)] = db_rows(config, "select status, attempts from outbox")
    assert (status, attempts) == ("sent", 1)


def test_smtp_outage_then_delivered_once(
    tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    config = setup(tmp_path, fresh_inbox, smtp_sink)
    smtp_sink.stop()
    with BotProcess(config) as bot:
        wait_running(bot)
        fresh_inbox.append(report())
        assert wait_until(lambda: db_rows(
            config, "select id from outbox where attempts >= 2 and status = 'queued'"), 20), \
            bot.log_text()
        smtp_sink.start()
        smtp_sink.wait_for(1, timeout=10)
        time.sleep(2.0)
    assert len(smtp_sink.messages) == 1
    [(status, last_error)] = db_rows(config, "select status, last_error from outbox")
    assert status == "sent" and last_error is None


def test_refused_recipient_is_reported(
    tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    config = setup(tmp_path, fresh_inbox, smtp_sink)
    smtp_sink.refuse(REPORTER, "550 5.1.1 mailbox unavailable")
    with BotProcess(config) as bot:
        wait_running(bot)
        fresh_inbox.append(report())
        assert wait_until(lambda: db_rows(
            config, "select id from outbox where status = 'failed'"), 10), bot.log_text()
    # The group's copy went out; the reporter's was refused and is reported, not dropped.
    [copy] = smtp_sink.messages
    assert copy.rcpt_tos == [CONDUCT]
    listing = run_cli(config, "outbox").stdout
    assert "failed" in listing and f"{REPORTER}: 550 5.1.1 mailbox unavailable" in listing
    [row] = json.loads(run_cli(config, "outbox", "--json").stdout)
    assert row["refused"] == [f"{REPORTER}: 550 5.1.1 mailbox unavailable"]
    case = json.loads(run_cli(config, "case", row["case"], "--json").stdout)
    assert "mail_refused" in [e["kind"] for e in case["events"]]
