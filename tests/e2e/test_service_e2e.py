"""`cocbot run` as a service: refused logins say so and end the daemon, SIGHUP reloads."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.botproc import BotProcess, e2e_config, run_cli, wait_until
from tests.helpers import make_mail
from tests.servers import Dovecot, SmtpSink

pytestmark = pytest.mark.e2e


def lines(bot: BotProcess) -> list[dict[str, object]]:
    out = []
    for line in bot.log_text().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def test_refused_imap_login_is_an_error_then_the_daemon_exits_non_zero(
    tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    config = e2e_config(tmp_path, fresh_inbox, smtp_sink,
                        imap={"password": "wrong-Pa55word"},
                        service={"login_failure_exit_minutes": 0.05})
    run_cli(config, "db", "upgrade")
    bot = BotProcess(config).start()
    try:
        assert wait_until(lambda: not bot.alive(), 40), bot.log_text()
    finally:
        code = bot.stop()
    assert code not in (0, None)
    failed = [e for e in lines(bot) if e.get("event") == "imap login failed"]
    assert failed and failed[0]["level"] == "error"
    assert "refused the login" in str(failed[0]["server_says"])
    assert "uthentication failed" in str(failed[0]["server_says"])  # Dovecot's words
    assert "imap login keeps failing" in bot.log_text()
    assert "wrong-Pa55word" not in bot.log_text()


def test_run_once_with_refused_smtp_login_exits_non_zero_with_one_line(
    tmp_path: Path, fresh_inbox: Dovecot
) -> None:
    with SmtpSink(username="bot", password="right") as sink:
        config = e2e_config(tmp_path, fresh_inbox, sink,
                            intake={"backfill_before": "2000-01-01"})
        config.write_text(config.read_text().replace(
            "[smtp]\n", '[smtp]\nusername = "bot"\npassword = "wrong-Pa55word"\n', 1))
        run_cli(config, "db", "upgrade")
        fresh_inbox.append(make_mail(message_id="r-smtp@mail.example"))
        result = run_cli(config, "run", "--once", check=False)
        assert result.returncode == 6
        [line] = result.stderr.strip().splitlines()[-1:]
        assert line.startswith("cocbot: error: could not send mail")
        assert "535" in line and "refused the login" in line
        assert "Traceback" not in result.stderr
        assert "wrong-Pa55word" not in result.stderr + result.stdout
        assert sink.messages == []
        # Fixed password: the queued acknowledgement goes out at its next probe.
        fixed = config.read_text().replace("wrong-Pa55word", "right")
        config.write_text(fixed)
        later = (datetime.now(UTC) + timedelta(minutes=2)).isoformat(timespec="seconds")
        run_cli(config, "run", "--once", "--now", later)
        acks = [m for m in sink.wait_for(1)
                if m.message["In-Reply-To"] == "<r-smtp@mail.example>"]
        assert len(acks) == 1


def test_refused_smtp_login_is_an_error_then_the_daemon_exits_non_zero(
    tmp_path: Path, fresh_inbox: Dovecot
) -> None:
    with SmtpSink(username="bot", password="right") as sink:
        config = e2e_config(tmp_path, fresh_inbox, sink,
                            intake={"backfill_before": "2000-01-01"},
                            service={"login_failure_exit_minutes": 0.05,
                                     "smtp_probe_seconds": 0.5})
        config.write_text(config.read_text().replace(
            "[smtp]\n", '[smtp]\nusername = "bot"\npassword = "wrong-Pa55word"\n', 1))
        run_cli(config, "db", "upgrade")
        bot = BotProcess(config).start()
        try:
            assert wait_until(lambda: "imap connected" in bot.log_text(), 20), bot.log_text()
            fresh_inbox.append(make_mail(message_id="r-smtp-daemon@mail.example"))
            assert wait_until(lambda: not bot.alive(), 30), bot.log_text()
        finally:
            code = bot.stop()
        assert code not in (0, None)
        failed = [e for e in lines(bot) if e.get("event") == "smtp login failed"]
        assert failed and failed[0]["level"] == "error"
        assert "535" in str(failed[0]["server_says"])
        assert "smtp login keeps failing" in bot.log_text()
        assert "wrong-Pa55word" not in bot.log_text()
        assert sink.messages == []


def test_sighup_reloads_a_valid_configuration_and_refuses_a_broken_one(
    tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    config = e2e_config(tmp_path, fresh_inbox, smtp_sink)
    run_cli(config, "db", "upgrade")
    good = config.read_text()
    with BotProcess(config) as bot:
        assert wait_until(lambda: "imap connected" in bot.log_text(), 20), bot.log_text()
        assert bot.proc is not None
        pid = bot.proc.pid
        config.write_text(good.replace("[imap]", "[imap]\nprot = 143", 1))
        bot.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "new configuration refused" in bot.log_text(), 10), \
            bot.log_text()
        assert "imap.prot" in bot.log_text()
        assert bot.alive()
        config.write_text(good.replace("poll_seconds = 1", "poll_seconds = 2"))
        before = bot.log_text().count("cocbot running")
        bot.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: bot.log_text().count("cocbot running") > before
                          or not bot.alive(), 30), bot.log_text()
        assert bot.alive() and bot.proc.pid == pid
        assert "SIGHUP: restarting with the new configuration" in bot.log_text()
        # Still working after the reload, with no standby wait for its own lease.
        started = time.monotonic()
        fresh_inbox.append(make_mail(message_id="after-hup@mail.example"))
        assert wait_until(lambda: "after-hup@mail.example" in bot.log_text(), 15)
        assert time.monotonic() - started < 15
        assert "standing by" not in bot.log_text()
