"""No report waits: wake-ups, catch-up, silent drops and a recreated mailbox under `cocbot run`."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.e2e.botproc import BotProcess, db_rows, e2e_config, run_cli, wait_until
from tests.e2e.latency import AckClock, deliver
from tests.helpers import make_mail
from tests.servers import Dovecot, SilentDropProxy, SmtpSink

pytestmark = pytest.mark.e2e


def setup(tmp_path: Path, dovecot: Dovecot, smtp: SmtpSink, **overrides: object) -> Path:
    sections: dict[str, object] = {
        "intake": {"backfill_before": "2000-01-01"},
        "acknowledgement": {"global_cap_per_hour": 1000},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(sections.get(key), dict):
            sections[key] = {**sections[key], **value}  # type: ignore[dict-item]
        else:
            sections[key] = value
    config = e2e_config(tmp_path, dovecot, smtp, **sections)
    run_cli(config, "db", "upgrade")
    return config


def report(n: int | str) -> tuple[str, bytes]:
    mid = f"report-{n}@mail.example"
    return mid, make_mail(message_id=mid, sender=f"reporter{n}@x.example",
                          subject=f"Report {n}")


def test_reports_during_catch_up_and_at_random_gaps_are_acknowledged_at_once(
    tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    config = setup(tmp_path, fresh_inbox, smtp_sink)
    queued = [report(f"q{i}") for i in range(40)]
    for _mid, raw in queued:
        fresh_inbox.append(raw)
    live = [report(f"l{i}") for i in range(20)]
    rng = random.Random(11)
    delivered: dict[str, float] = {}
    with AckClock(smtp_sink) as clock, BotProcess(config) as bot:
        assert wait_until(lambda: "imap connected" in bot.log_text() or not bot.alive(), 20)
        # The first few arrive while the queued thirty are still being filed.
        for mid, raw in live:
            delivered[mid] = deliver(fresh_inbox, raw)
            time.sleep(rng.uniform(0.05, 0.6))
        everything = [m for m, _ in queued] + list(delivered)
        assert clock.wait_for(everything, 30), bot.log_text()
        assert bot.alive()
    # Some live reports came during the catch-up and were filed ahead of the backlog.
    assert '"ahead_of_backlog": true' in bot.log_text()
    waits = {mid: clock.arrived[mid] - at for mid, at in delivered.items()}
    assert max(waits.values()) < 3.0, sorted(waits.items(), key=lambda kv: -kv[1])[:3]
    # One acknowledgement per report, never two.
    assert all(clock.counts[m] == 1 for m in everything), clock.counts


def test_silent_drop_noticed_within_socket_timeout(
    tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    socket_timeout = 4.0
    with SilentDropProxy(fresh_inbox.host, fresh_inbox.port) as proxy:
        config = setup(tmp_path, fresh_inbox, smtp_sink,
                       imap={"port": proxy.port, "idle_seconds": 290,
                             "socket_timeout": socket_timeout})
        with AckClock(smtp_sink) as clock, BotProcess(config) as bot:
            assert wait_until(lambda: "imap connected" in bot.log_text(), 20), bot.log_text()
            proxy.blackhole()
            proxy.restore()  # new connections work again; the bot's old one is dead
            mid, raw = report("after-drop")
            at = deliver(fresh_inbox, raw)
            assert clock.wait_for([mid], socket_timeout + 5), bot.log_text()
            assert clock.arrived[mid] - at < socket_timeout + 5
            assert bot.alive()


def test_recreated_mailbox_while_idling_is_resynchronised_at_once(
    tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    folder = "Reports"
    fresh_inbox.recreate_mailbox(folder)
    config = setup(tmp_path, fresh_inbox, smtp_sink,
                   imap={"folder": folder, "idle_seconds": 290, "socket_timeout": 30})
    with AckClock(smtp_sink) as clock, BotProcess(config) as bot:
        assert wait_until(lambda: "imap connected" in bot.log_text(), 20), bot.log_text()
        mid, raw = report("before")
        deliver(fresh_inbox, raw, folder=folder)
        assert clock.wait_for([mid], 5), bot.log_text()
        old = fresh_inbox.uidvalidity(folder)
        fresh_inbox.recreate_mailbox(folder)
        assert fresh_inbox.uidvalidity(folder) != old
        mid2, raw2 = report("after")
        at = deliver(fresh_inbox, raw2, folder=folder)
        assert clock.wait_for([mid2], 5), bot.log_text()
        assert clock.arrived[mid2] - at < 5
        assert wait_until(lambda: db_rows(config, "select uidvalidity from imapcursor")
                          == [(fresh_inbox.uidvalidity(folder),)], 5)
        assert bot.alive()
