"""Every delivery failure is logged at warning with its reason (addresses redacted);
a dead instance's claimed sends are taken over at once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, col, select
from structlog.testing import capture_logs

from bot.core.app import App
from bot.outbound.outbox import queue_mail
from bot.outbound.sender import deliver_due, redact_addresses, take_over_claims
from bot.store.db import session_scope
from bot.store.models import Outbox
from bot.store.records import open_case
from tests.helpers import make_app
from tests.servers import SmtpSink, free_port

REPORTER = "jo.reporter@mail.example"


def _app(tmp_path: Path, port: int) -> App:
    return make_app(f"sqlite:///{tmp_path / 'cocbot.db'}",
                    smtp={"host": "127.0.0.1", "port": port, "security": "none",
                          "timeout": 5.0})


def _queue(app: App) -> Outbox:
    with session_scope(app.engine) as session:
        case = open_case(session, date_reported=app.now_utc(),
                         reporter_address=REPORTER, reporter_name=None, message_id=None,
                         how="test")
        return queue_mail(session, app, kind="urgent", template="urgent_notice",
                          to=[REPORTER], cc=[], case=case)


def test_refused_data_and_unreachable_server_are_warnings_with_reasons(tmp_path: Path) -> None:
    with SmtpSink() as sink:
        app = _app(tmp_path, sink.port)
        _queue(app)
        sink.fail_data(f"451 4.3.0 mailbox {REPORTER} busy, try later")
        with capture_logs() as logs:
            assert deliver_due(app) == 0
    [failed] = [e for e in logs if e["event"] == "mail delivery failed; will retry"]
    assert failed["log_level"] == "warning"
    assert "451 4.3.0" in failed["error"] and REPORTER not in failed["error"]
    assert "<address>" in failed["error"]

    (tmp_path / "down").mkdir()
    app = _app(tmp_path / "down", free_port())
    _queue(app)
    assert deliver_due(app) == 0
    with Session(app.engine) as session:
        rows = session.exec(select(Outbox)).all()
    assert all("cannot reach the SMTP server" in (r.last_error or "") for r in rows)


def test_rows_claimed_by_a_dead_instance_are_due_at_once(tmp_path: Path) -> None:
    app = _app(tmp_path, free_port())
    row = _queue(app)
    far = app.now_utc() + timedelta(days=365)
    with session_scope(app.engine) as session:
        session.execute(update(Outbox).where(col(Outbox.id) == row.id).values(
            claimed_by="otherhost:123:abcd", next_attempt_at=far))
    assert take_over_claims(app) == 1
    with Session(app.engine) as session:
        again = session.get(Outbox, row.id)
    assert again is not None and again.claimed_by is None and again.next_attempt_at < far
    assert take_over_claims(app) == 0


def test_redact_addresses() -> None:
    assert redact_addresses("550 5.1.1 <a.b@x.example>: no such user") == \
        "550 5.1.1 <<address>>: no such user"
