"""Reminders and the digest end to end: real Dovecot, real SMTP, `cocbot run --once --now`.

Every step is a separate `cocbot run --once --now T` process, as a cron-driven
or restarted bot would be, so nothing can survive in memory between them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.botproc import db_rows, e2e_config, run_cli
from tests.helpers import MAYA, REPORTER, make_mail
from tests.servers import CapturedMessage, Dovecot, SmtpSink

pytestmark = pytest.mark.e2e

REPORT_TEXT = "The organiser kept touching my shoulder after I asked him to stop."


def setup(tmp_path: Path, dovecot: Dovecot, smtp: SmtpSink) -> Path:
    # No first-run cut-off (every appended message is live mail), and no automatic
    # acknowledgement, so the 24-hour clock runs out.
    config = e2e_config(tmp_path, dovecot, smtp, intake={"backfill_before": "2000-01-01"},
                        acknowledgement={"enabled": False})
    run_cli(config, "db", "upgrade")
    return config


def deliver(dovecot: Dovecot, raw: bytes, when: datetime) -> None:
    """Append `raw` to the inbox as if it arrived at `when` (its INTERNALDATE)."""
    with dovecot.connect() as client:
        client.append("INBOX", raw, msg_time=when)


def run_at(config: Path, when: str) -> None:
    run_cli(config, "run", "--once", "--now", when)


def subjects(sink: SmtpSink, start: int = 0) -> list[str]:
    return [str(m.message["Subject"]) for m in sink.messages[start:]]


def reminders(msgs: list[CapturedMessage]) -> list[CapturedMessage]:
    return [m for m in msgs if str(m.message["Subject"]).startswith("Reminder:")]


def digests(msgs: list[CapturedMessage]) -> list[CapturedMessage]:
    return [m for m in msgs if str(m.message["Subject"]).startswith("Code of Conduct digest")]


def test_reminder_on_tuesday_not_sunday_and_one_digest_a_day(
    tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    config = setup(tmp_path, fresh_inbox, smtp_sink)
    monday = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    deliver(fresh_inbox, make_mail(message_id="r1@mail.example", body=REPORT_TEXT, date=monday),
            monday)

    run_at(config, "2026-11-02T10:05:00Z")  # files the report; Monday's digest lists it
    [(code,)] = db_rows(config, "select code from 'case'")
    first = list(smtp_sink.messages)
    assert reminders(first) == []
    [digest] = digests(first)
    assert digest.rcpt_tos == [MAYA]
    assert code in digest.content.decode()
    assert REPORTER.encode() not in digest.content and b"touching my shoulder" not in \
        digest.content

    run_at(config, "2026-11-02T16:00:00Z")  # a second run the same day: no second digest
    run_at(config, "2026-11-03T09:30:00Z")  # Tuesday: the day's digest; clock still running
    seen = len(smtp_sink.messages)
    assert len(digests(smtp_sink.messages)) == 2
    assert reminders(smtp_sink.messages) == []

    run_at(config, "2026-11-03T10:30:00Z")  # Tuesday after 10:00: the chair is reminded
    [reminder] = reminders(smtp_sink.messages[seen:])
    assert reminder.rcpt_tos == [MAYA]
    assert code.replace(" ", "-") in str(reminder.message["Subject"])
    assert REPORTER.encode() not in reminder.content
    assert b"touching my shoulder" not in reminder.content
    run_at(config, "2026-11-03T11:00:00Z")  # once
    assert len(reminders(smtp_sink.messages)) == 1

    # A second report on Saturday: its clock runs out on Sunday, when nothing is sent.
    saturday = datetime(2026, 11, 7, 10, 0, tzinfo=UTC)
    deliver(fresh_inbox, make_mail(message_id="r2@mail.example", sender="sat@mail.example",
                                   body="Slurs in the meetup chat.", date=saturday), saturday)
    run_at(config, "2026-11-07T10:05:00Z")
    seen = len(smtp_sink.messages)
    run_at(config, "2026-11-08T12:00:00Z")  # Sunday noon: both cases overdue, no reminder
    sunday = smtp_sink.messages[seen:]
    assert reminders(sunday) == []
    assert len(digests(sunday)) == 1  # the digest is daily, weekends included

    seen = len(smtp_sink.messages)
    run_at(config, "2026-11-09T09:30:00Z")  # Monday in working hours: both are reminded
    assert len(reminders(smtp_sink.messages[seen:])) == 2

    # One digest per day, whatever the number of runs.
    days = [str(r[0]) for r in db_rows(config, "select day from digestclaim order by day")]
    assert days == ["2026-11-02", "2026-11-03", "2026-11-07", "2026-11-08", "2026-11-09"]
    assert len(digests(smtp_sink.messages)) == 5


def test_digest_dry_run_prints_without_claiming(
    tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    config = setup(tmp_path, fresh_inbox, smtp_sink)
    monday = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    deliver(fresh_inbox, make_mail(message_id="r1@mail.example", body=REPORT_TEXT, date=monday),
            monday)
    run_at(config, "2026-11-02T07:00:00Z")  # before digest time: files only
    [(code,)] = db_rows(config, "select code from 'case'")

    out = run_cli(config, "digest", "--dry-run", "--now", "2026-11-02T08:00:00Z").stdout
    assert f"To: {MAYA}" in out and code in out and "Awaiting acknowledgement" in out
    assert REPORTER not in out and "touching my shoulder" not in out
    assert db_rows(config, "select * from digestclaim") == []
    assert smtp_sink.messages == []

    out = run_cli(config, "digest", "--now", "2026-11-02T07:30:00Z").stdout
    assert "queued 1 digest(s), sent 1" in out
    [digest] = smtp_sink.messages
    assert digest.rcpt_tos == [MAYA]
    # Claimed for the day: the scheduler sends no second one.
    run_at(config, "2026-11-02T09:00:00Z")
    assert len(digests(smtp_sink.messages)) == 1
