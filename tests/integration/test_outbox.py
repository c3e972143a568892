"""The outbox and its sender against a real database (both backends) and a real SMTP server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import ANY

import pytest
from sqlmodel import Session, select

import bot.outbound.sender
from bot.core.app import App
from bot.outbound.listing import outbox_headers, outbox_rows, retry_rows
from bot.outbound.outbox import OutboxError, queue_mail
from bot.outbound.sender import deliver_due
from bot.store.db import session_scope
from bot.store.models import Case, Event, Outbox
from bot.store.records import open_case
from tests.helpers import CONDUCT, cocbot, config_dict, make_app, write_config
from tests.servers import SmtpSink

# Storage behaviour (transactions, claims, constraints): SQLite and PostgreSQL.
pytestmark = pytest.mark.storage

T0 = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
GOOD = "good@mail.example"
BAD = "bad@mail.example"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def smtp_section(sink: SmtpSink, **extra: object) -> dict[str, object]:
    return {"host": sink.host, "port": sink.port, "security": "none", "timeout": 5.0,
            "retry_base_seconds": 60.0, "retry_max_seconds": 3600.0,
            "give_up_after_hours": 2.0, **extra}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(db_url: str, smtp_sink: SmtpSink, clock: Clock) -> App:
    app = make_app(db_url, smtp=smtp_section(smtp_sink))
    app.clock = clock
    return app


def queue(app: App, to: list[str], cc: list[str] | None = None) -> Outbox:
    with session_scope(app.engine) as session:
        case = open_case(session, date_reported=app.now_utc(), reporter_address=to[0],
                         reporter_name=None, message_id=None, how="test")
        return queue_mail(session, app, kind="urgent", template="urgent_notice", to=to,
                          cc=cc or [], case=case)


def row(app: App, message_id: str) -> Outbox:
    with Session(app.engine) as session:
        found = session.exec(select(Outbox).where(Outbox.message_id == message_id)).one()
        session.expunge(found)
        return found


def events(app: App, kind: str) -> list[Event]:
    with Session(app.engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind)).all())


def test_queued_mail_is_delivered_once(app: App, smtp_sink: SmtpSink) -> None:
    queued = queue(app, [GOOD], [CONDUCT])
    assert deliver_due(app) == 1
    assert deliver_due(app) == 0
    [msg] = smtp_sink.messages
    assert msg.mail_from == CONDUCT
    assert msg.rcpt_tos == [GOOD, CONDUCT]
    assert msg.content.replace(b"\r\n", b"\n") == queued.raw.replace(b"\r\n", b"\n")
    assert msg.message["Message-ID"] == f"<{queued.message_id}>"
    sent = row(app, queued.message_id)
    assert sent.status == "sent" and sent.attempts == 1 and sent.sent_at == T0
    assert [e.message_id for e in events(app, "mail_sent")] == [queued.message_id]


def test_outage_is_probed_at_a_steady_rate_then_delivered_once(
    app: App, smtp_sink: SmtpSink, clock: Clock
) -> None:
    smtp_sink.stop()
    queued = queue(app, [GOOD])
    probe = timedelta(seconds=app.config.service.smtp_probe_seconds)
    assert deliver_due(app) == 0
    waiting = row(app, queued.message_id)
    # No backoff grows: the server is probed again after smtp_probe_seconds, however
    # long the outage lasts, so the queue drains soon after it comes back.
    assert waiting.status == "queued" and waiting.attempts == 1
    assert waiting.last_error and "SMTP server" in waiting.last_error
    assert waiting.next_attempt_at == T0 + probe
    assert deliver_due(app) == 0  # not due yet: no new attempt
    for _ in range(5):
        clock.advance(seconds=probe.total_seconds())
        assert deliver_due(app) == 0  # still down
        assert row(app, queued.message_id).next_attempt_at == clock.now + probe

    smtp_sink.start()
    clock.advance(seconds=probe.total_seconds())
    assert deliver_due(app) == 1
    clock.advance(hours=5)
    assert deliver_due(app) == 0
    assert len(smtp_sink.messages) == 1
    sent = row(app, queued.message_id)
    assert sent.status == "sent" and sent.attempts == 7


def test_data_refused_temporarily_is_retried(
    app: App, smtp_sink: SmtpSink, clock: Clock
) -> None:
    smtp_sink.fail_data("451 4.3.0 try again later")
    queued = queue(app, [GOOD])
    assert deliver_due(app) == 0
    assert row(app, queued.message_id).last_error == "451 4.3.0 try again later"
    smtp_sink.fail_data(None)
    clock.advance(minutes=2)
    assert deliver_due(app) == 1
    assert len(smtp_sink.messages) == 1


def test_permanent_failure_fails_at_once(app: App, smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_data("554 5.6.0 message rejected")
    queued = queue(app, [GOOD])
    assert deliver_due(app) == 0
    failed = row(app, queued.message_id)
    assert failed.status == "failed" and failed.attempts == 1
    [ev] = events(app, "mail_failed")
    assert ev.data["reason"] == "permanent failure"


def test_partial_refusal_is_recorded_and_retry_sends_only_to_refused(
    app: App, smtp_sink: SmtpSink
) -> None:
    smtp_sink.refuse(BAD, "550 5.1.1 no such user")
    queued = queue(app, [GOOD, BAD])
    assert deliver_due(app) == 0
    [first] = smtp_sink.messages
    assert first.rcpt_tos == [GOOD]
    failed = row(app, queued.message_id)
    assert failed.status == "failed"
    assert failed.refused == [f"{BAD}: 550 5.1.1 no such user"]
    assert failed.sent_at == T0  # the good recipient got it
    [refused_event] = events(app, "mail_refused")
    assert refused_event.data["refused"] == failed.refused
    with Session(app.engine) as session:
        case = session.exec(select(Case)).one()
        assert refused_event.case_id == case.id
    listed = outbox_rows(app)
    assert [(r["status"], r["refused"]) for r in listed] == [("failed", failed.refused)]
    headers = outbox_headers(app, failed.id or 0)
    assert headers is not None and "refused: bad@mail.example: 550" in headers

    smtp_sink.accept(BAD)
    assert retry_rows(app, [failed.id or 0]) == [(failed.id, "queued again")]
    assert deliver_due(app) == 1
    second = smtp_sink.messages[1]
    assert second.rcpt_tos == [BAD]
    assert second.message["Message-ID"] == first.message["Message-ID"]
    done = row(app, queued.message_id)
    assert done.status == "sent" and done.refused == []


def test_temporary_refusal_retries_only_that_recipient(
    app: App, smtp_sink: SmtpSink, clock: Clock
) -> None:
    smtp_sink.refuse(BAD, "452 4.2.2 mailbox full")
    queued = queue(app, [GOOD, BAD])
    assert deliver_due(app) == 0
    partly = row(app, queued.message_id)
    assert partly.status == "queued" and partly.sent_at == T0
    assert partly.refused == [f"{BAD}: 452 4.2.2 mailbox full"]
    smtp_sink.accept(BAD)
    clock.advance(minutes=2)
    assert deliver_due(app) == 1
    assert [m.rcpt_tos for m in smtp_sink.messages] == [[GOOD], [BAD]]
    assert row(app, queued.message_id).status == "sent"


def test_temporary_refusal_then_a_broken_session_then_delivered_once_each(
    app: App, smtp_sink: SmtpSink, clock: Clock
) -> None:
    """A recipient refused for now, then a fault on the retry: nobody gets it twice."""
    smtp_sink.refuse(BAD, "451 4.7.1 greylisted, try again")
    queued = queue(app, [GOOD, BAD])
    assert deliver_due(app) == 0
    smtp_sink.accept(BAD)
    smtp_sink.fail_data("421 4.3.2 shutting down")  # the retry's session breaks
    clock.advance(minutes=2)
    assert deliver_due(app) == 0
    broken = row(app, queued.message_id)
    assert broken.status == "queued" and broken.refused == [
        f"{BAD}: 451 4.7.1 greylisted, try again"]  # still owed, still only to BAD
    smtp_sink.fail_data(None)
    clock.advance(minutes=10)
    assert deliver_due(app) == 1
    delivered = [m.rcpt_tos for m in smtp_sink.messages]
    assert delivered == [[GOOD], [BAD]]
    assert row(app, queued.message_id).status == "sent"


def test_mixed_refusals_retry_the_temporary_one_then_fail_on_the_permanent(
    app: App, smtp_sink: SmtpSink, clock: Clock
) -> None:
    third = "gone@mail.example"
    smtp_sink.refuse(BAD, "452 4.2.2 mailbox full")
    smtp_sink.refuse(third, "550 5.1.1 no such user")
    queued = queue(app, [GOOD, BAD, third])
    assert deliver_due(app) == 0
    assert row(app, queued.message_id).status == "queued"  # BAD may still get it
    smtp_sink.accept(BAD)
    clock.advance(minutes=2)
    assert deliver_due(app) == 0
    done = row(app, queued.message_id)
    # BAD got it on the retry; the permanent refusal is what is left, for the operator.
    assert done.status == "failed" and done.refused == [f"{third}: 550 5.1.1 no such user"]
    assert [m.rcpt_tos for m in smtp_sink.messages] == [[GOOD], [BAD]]


def test_every_recipient_refused_fails(app: App, smtp_sink: SmtpSink) -> None:
    smtp_sink.refuse(GOOD, "550 5.1.1 no such user")
    queued = queue(app, [GOOD])
    assert deliver_due(app) == 0
    failed = row(app, queued.message_id)
    assert failed.status == "failed"
    assert failed.refused == [f"{GOOD}: 550 5.1.1 no such user"]
    assert failed.sent_at is None
    assert smtp_sink.messages == []


def test_give_up_marks_failed_then_cli_retry_delivers(
    db_url: str, smtp_sink: SmtpSink, clock: Clock, tmp_path: Path
) -> None:
    app = make_app(db_url, smtp=smtp_section(smtp_sink))
    app.clock = clock
    smtp_sink.stop()
    queued = queue(app, [GOOD])
    for _ in range(12):
        deliver_due(app)
        clock.advance(minutes=20)
    failed = row(app, queued.message_id)
    assert failed.status == "failed"
    assert failed.attempts >= 2
    [ev] = events(app, "mail_failed")
    assert ev.data["reason"] == "gave up retrying"
    app.engine.dispose()

    config = write_config(tmp_path / "cocbot.toml",
                          config_dict(db_url, smtp=smtp_section(smtp_sink)))
    listing = cocbot("outbox", config=config).stdout
    assert "failed" in listing and "cannot reach the SMTP server" in listing
    [listed] = json.loads(cocbot("outbox", "--all", "--json", config=config).stdout)
    assert (listed["id"], listed["status"], listed["case"]) == (failed.id, "failed", ANY)
    shown = cocbot("outbox", "show", str(failed.id), config=config).stdout
    assert f"Message-ID: <{queued.message_id}>" in shown
    assert "Case code name" not in shown  # headers only, never the body
    retried = cocbot("outbox", "retry", "--all", config=config).stdout
    assert f"{failed.id}: queued again" in retried

    smtp_sink.start()
    app2 = make_app(db_url, smtp=smtp_section(smtp_sink))
    assert deliver_due(app2) == 1
    assert deliver_due(app2) == 0
    assert len(smtp_sink.messages) == 1
    assert cocbot("outbox", config=config).stdout.strip() == "nothing queued or failed"


def test_crash_after_acceptance_resends_the_same_message(
    app: App, smtp_sink: SmtpSink, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = queue(app, [GOOD])

    def crash(*_args: object) -> bool:
        raise SystemExit("killed between SMTP acceptance and marking the row sent")

    with monkeypatch.context() as patch:
        patch.setattr(bot.outbound.sender, "_record", crash)
        with pytest.raises(SystemExit):
            deliver_due(app)
    assert row(app, queued.message_id).status == "queued"
    assert deliver_due(app) == 0  # claimed by the crashed sender until its lease runs out
    clock.advance(seconds=bot.outbound.sender.lease_seconds(app, queued) + 1)
    assert deliver_due(app) == 1
    first, second = smtp_sink.messages
    assert first.content == second.content
    assert first.message["Message-ID"] == f"<{queued.message_id}>"


def test_login_is_used_when_configured(db_url: str) -> None:
    with SmtpSink(username="bot", password="s3cret") as sink:
        app = make_app(db_url, smtp=smtp_section(sink, username="bot", password="s3cret"))
        queue(app, [GOOD])
        assert deliver_due(app) == 1
        assert sink.messages[0].login == "bot"


def test_wrong_login_is_retried_not_failed(db_url: str) -> None:
    with SmtpSink(username="bot", password="s3cret") as sink:
        app = make_app(db_url, smtp=smtp_section(sink, username="bot", password="wrong"))
        queued = queue(app, [GOOD])
        assert deliver_due(app) == 0
        waiting = row(app, queued.message_id)
        assert waiting.status == "queued" and "SMTP server" in (waiting.last_error or "")


def test_unusable_address_is_refused_at_queue_time(app: App) -> None:
    with pytest.raises(OutboxError), session_scope(app.engine) as session:
        queue_mail(session, app, kind="urgent", template="urgent_notice",
                   to=["x@mail.example\r\nBcc: attacker@example.com"])
    with Session(app.engine) as session:
        assert session.exec(select(Outbox)).all() == []


def test_outage_during_a_manual_retry_does_not_fail_the_row(
    app: App, smtp_sink: SmtpSink, clock: Clock
) -> None:
    smtp_sink.refuse(BAD, "550 5.1.1 no such user")
    queued = queue(app, [GOOD, BAD])
    deliver_due(app)
    failed = row(app, queued.message_id)
    assert failed.status == "failed"
    retry_rows(app, [failed.id or 0])
    smtp_sink.stop()
    deliver_due(app)
    waiting = row(app, queued.message_id)
    assert waiting.status == "queued"
    assert waiting.refused == [f"{BAD}: 550 5.1.1 no such user"]
    smtp_sink.accept(BAD)
    smtp_sink.start()
    clock.advance(minutes=5)
    assert deliver_due(app) == 1
    assert [m.rcpt_tos for m in smtp_sink.messages] == [[GOOD], [BAD]]
