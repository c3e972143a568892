"""The sender dying mid-batch: what repeats, and how soon the rest goes out."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

import bot.outbound.sender
from bot.core.app import App
from bot.outbound.outbox import queue_mail
from bot.outbound.sender import deliver_due, lease_seconds
from bot.store.db import session_scope
from bot.store.models import Outbox
from bot.store.records import open_case
from tests.helpers import make_app
from tests.servers import SmtpSink

# Storage behaviour (transactions, claims, constraints): SQLite and PostgreSQL.
pytestmark = pytest.mark.storage

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
TIMEOUT = 5.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(db_url: str, smtp_sink: SmtpSink, clock: Clock) -> App:
    app = make_app(db_url, smtp={"host": smtp_sink.host, "port": smtp_sink.port,
                                 "security": "none", "timeout": TIMEOUT})
    app.clock = clock
    return app


def queue_three(app: App) -> list[str]:
    ids = []
    with session_scope(app.engine) as session:
        for i in range(3):
            case = open_case(session, date_reported=app.now_utc(),
                             reporter_address=f"r{i}@mail.example", reporter_name=None,
                             message_id=None, how="test")
            ids.append(queue_mail(session, app, kind="urgent", template="urgent_notice",
                                  to=[f"r{i}@mail.example"], case=case).message_id)
    return ids


def statuses(app: App) -> dict[str, str]:
    with Session(app.engine) as session:
        return {r.message_id: r.status for r in session.exec(select(Outbox)).all()}


def sent_ids(sink: SmtpSink) -> Counter[str]:
    return Counter(str(m.message["Message-ID"]).strip("<>") for m in sink.messages)


def test_crash_after_the_second_acceptance_repeats_only_that_message(
    app: App, smtp_sink: SmtpSink, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = queue_three(app)
    real_send = bot.outbound.sender._send_one
    calls = 0

    async def send_then_die(*args: Any) -> bot.outbound.sender.Attempt:
        nonlocal calls
        calls += 1
        attempt = await real_send(*args)
        if calls == 2:
            raise SystemExit("killed after the server accepted the second message")
        return attempt

    with monkeypatch.context() as patch:
        patch.setattr(bot.outbound.sender, "_send_one", send_then_die)
        with pytest.raises(SystemExit):
            deliver_due(app)
    # The first message was marked sent as soon as it was accepted; the third was
    # never claimed, so it is not held back by the dead sender's lease.
    assert statuses(app) == {first: "sent", second: "queued", third: "queued"}
    assert deliver_due(app) == 1
    assert sent_ids(smtp_sink) == Counter({first: 1, second: 1, third: 1})

    # The message in flight waits for its lease, which one SMTP transaction bounds.
    with Session(app.engine) as session:
        row = session.exec(select(Outbox).where(Outbox.message_id == second)).one()
    lease = lease_seconds(app, row)
    assert lease <= TIMEOUT * 10
    clock.now = T0 + timedelta(seconds=lease - 1)
    assert deliver_due(app) == 0
    clock.now = T0 + timedelta(seconds=lease + 1)
    assert deliver_due(app) == 1
    assert sent_ids(smtp_sink) == Counter({first: 1, second: 2, third: 1})
    assert statuses(app) == {first: "sent", second: "sent", third: "sent"}
