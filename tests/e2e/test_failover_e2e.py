"""Fast recovery under `cocbot run`: a crash with mail in flight, PostgreSQL restarting,
two instances on one database with the working one killed."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.botproc import BotProcess, e2e_config, run_cli, wait_until
from tests.e2e.latency import AckClock, deliver
from tests.helpers import make_mail
from tests.servers import Dovecot, Postgres, SmtpSink, postgres_bin_dir

pytestmark = pytest.mark.e2e


def report(n: int | str) -> tuple[str, bytes]:
    mid = f"report-{n}@mail.example"
    return mid, make_mail(message_id=mid, sender=f"reporter{n}@x.example", subject=f"Report {n}")


def setup(tmp_path: Path, dovecot: Dovecot, smtp: SmtpSink, **overrides: Any) -> Path:
    sections: dict[str, Any] = {"intake": {"backfill_before": "2000-01-01"},
                                "acknowledgement": {"global_cap_per_hour": 1000}}
    sections.update(overrides)
    config = e2e_config(tmp_path, dovecot, smtp, **sections)
    run_cli(config, "db", "upgrade")
    return config


def rows(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()


def acknowledgements_per_report(sink: SmtpSink) -> dict[str, int]:
    """Distinct acknowledgement Message-IDs per report (a repeat of the same one counts once:
    delivery is at-least-once, and mail clients show one message per Message-ID)."""
    per_report: dict[str, set[str]] = {}
    for m in sink.messages:
        replied = str(m.message.get("In-Reply-To", "")).strip("<>")
        if replied:
            per_report.setdefault(replied, set()).add(str(m.message["Message-ID"]))
    return {k: len(v) for k, v in per_report.items()}


def error_lines(*bots: BotProcess) -> list[str]:
    return [line for bot in bots for line in bot.log_text().splitlines()
            if '"level": "error"' in line or "Traceback" in line]


def test_sigkill_with_acknowledgement_in_flight_then_immediate_restart(
    tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    # smtp.timeout stays 30 s: the old time lease alone would hold the row for minutes.
    config = setup(tmp_path, fresh_inbox, smtp_sink)
    db = f"sqlite:///{tmp_path / 'cocbot.db'}"
    hold = smtp_sink.hold_data()
    mid, raw = report("in-flight")
    with AckClock(smtp_sink) as clock:
        first = BotProcess(config).start()
        try:
            assert wait_until(lambda: "imap connected" in first.log_text(), 20), first.log_text()
            deliver(fresh_inbox, raw)
            assert smtp_sink.data_started.wait(15), first.log_text()
            [(claimed,)] = rows(db, "select claimed_by from outbox")
            assert claimed and f":{first.proc.pid}:" in claimed  # type: ignore[union-attr]
            first.kill()
        finally:
            first.stop()
        hold.clear()
        restarted = time.monotonic()
        with BotProcess(config) as second:
            assert clock.wait_for([mid], 10), second.log_text()
            assert clock.arrived[mid] - restarted < 10
    # Once, or again under the same Message-ID: never a second, different acknowledgement.
    acks = {str(m.message["Message-ID"]) for m in smtp_sink.messages}
    assert len(acks) == 1


@pytest.fixture
def own_postgres() -> Iterator[Postgres]:
    """A cluster of this test's own, since the test kills it.

    Durable (synchronous commit, as in production): a commit the bot saw survives the
    crash.  Without it the server forgets its last commits, the bot files those
    messages again, and that is the server losing data, not the bot.
    """
    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed")
    with Postgres(durable=True) as server:
        yield server


def _crash(pg: Postgres) -> None:
    """Immediate shutdown (SIGQUIT): every backend dies mid-transaction, like a crash."""
    pid = pg.postmaster_pid()
    assert pid is not None
    os.kill(pid, signal.SIGQUIT)
    assert wait_until(lambda: pg.postmaster_pid() is None, 30)
    pg.stop()  # marks it stopped; start() then runs crash recovery


def test_postgres_killed_mid_stream_and_restarted(
    tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink, own_postgres: Postgres
) -> None:
    url = own_postgres.create_database("cocbot")
    config = setup(tmp_path, fresh_inbox, smtp_sink, database={"url": url})
    reports = [report(i) for i in range(16)]
    rng = random.Random(3)
    with AckClock(smtp_sink) as clock, BotProcess(config) as bot:
        assert wait_until(lambda: "imap connected" in bot.log_text(), 20), bot.log_text()
        for i, (_mid, raw) in enumerate(reports):
            deliver(fresh_inbox, raw)
            if i == 7:
                _crash(own_postgres)
            if i == 10:
                own_postgres.start()
            time.sleep(rng.uniform(0.05, 0.3))
        assert clock.wait_for([m for m, _ in reports], 60), bot.log_text()
        assert bot.alive()
        filed = [r[0] for r in rows(url, "select message_id from inboundmessage")]
        assert sorted(filed) == sorted(m for m, _ in reports)
        assert rows(url, "select count(*) from quarantine") == [(0,)]
        assert "database unavailable" in bot.log_text()
    assert acknowledgements_per_report(smtp_sink) == {m: 1 for m, _ in reports}


def test_two_instances_on_postgres_one_killed_halfway(
    tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink, pg_url: str
) -> None:
    takeover = 6.0
    config = setup(tmp_path, fresh_inbox, smtp_sink, database={"url": pg_url},
                   service={"takeover_seconds": takeover})
    (tmp_path / "b").mkdir()
    config_b = (tmp_path / "b" / "cocbot.toml")
    config_b.write_text(config.read_text())
    reports = [report(i) for i in range(24)]
    rng = random.Random(9)
    with AckClock(smtp_sink) as clock, BotProcess(config) as bot_a, \
            BotProcess(config_b) as bot_b:
        bots = {bot_a.proc.pid: bot_a, bot_b.proc.pid: bot_b}  # type: ignore[union-attr]
        assert wait_until(lambda: "imap connected" in bot_a.log_text() + bot_b.log_text(), 20)
        [(holder,)] = rows(pg_url, "select pid from servicelease")
        active = bots[holder]
        standby = next(b for p, b in bots.items() if p != holder)
        assert wait_until(lambda: "standing by" in standby.log_text(), 20), standby.log_text()
        for i, (mid, raw) in enumerate(reports):
            deliver(fresh_inbox, raw)
            if i == len(reports) // 2:
                assert clock.wait_for([mid], 10)
                active.kill()
                killed = time.monotonic()
                assert wait_until(lambda: "holding the intake" in standby.log_text(),
                                  takeover + 5), standby.log_text()
                assert time.monotonic() - killed < takeover
            time.sleep(rng.uniform(0.05, 0.3))
        assert clock.wait_for([m for m, _ in reports], 30), standby.log_text()
        filed = [r[0] for r in rows(pg_url, "select message_id from inboundmessage")]
        assert sorted(filed) == sorted(m for m, _ in reports)
        assert rows(pg_url, "select count(*) from quarantine") == [(0,)]
        assert acknowledgements_per_report(smtp_sink) == {m: 1 for m, _ in reports}
        assert error_lines(bot_a, bot_b) == []


def test_second_instance_on_sqlite_refuses_to_start(
    tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    config = setup(tmp_path, fresh_inbox, smtp_sink)
    with BotProcess(config) as bot:
        assert wait_until(lambda: "imap connected" in bot.log_text(), 20), bot.log_text()
        second = run_cli(config, "run", check=False, timeout=60)
        assert second.returncode == 7
        assert "another cocbot instance" in second.stderr and "SQLite" in second.stderr
        assert "Traceback" not in second.stderr
        once = run_cli(config, "run", "--once", check=False, timeout=60)
        assert once.returncode == 7
        assert bot.alive()
