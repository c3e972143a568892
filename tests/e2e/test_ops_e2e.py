"""Operators against real servers: check-config --connect, and backup/restore while running."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli.main import main
from bot.store.db import upgrade
from tests.e2e.botproc import BotProcess, db_rows, e2e_config, wait_until
from tests.helpers import CONDUCT, config_dict, make_mail, write_config
from tests.servers import Dovecot, SmtpSink, free_port

pytestmark = pytest.mark.e2e


def connect_config(tmp: Path, dovecot: Dovecot, sink: SmtpSink, *, imap_password: str | None = None,
                   smtp_password: str = "smtp-secret", database: str | None = None) -> Path:
    """A config for Dovecot and an SMTP sink that wants a login; one setting may be wrong."""
    data = config_dict(
        database or f"sqlite:///{tmp / 'cocbot.db'}",
        imap={"host": dovecot.host, "port": dovecot.port, "security": "none",
              "username": dovecot.user, "password": imap_password or dovecot.password,
              "socket_timeout": 3},
        smtp={"host": sink.host, "port": sink.port, "security": "none", "username": "bot",
              "password": smtp_password, "timeout": 3})
    return write_config(tmp / "cocbot.toml", data)


def cli(config: Path, *args: str) -> Any:
    """`cocbot --config CONFIG ARGS...` in this process."""
    return CliRunner().invoke(main, ["--config", str(config), *args])


def check_connect(config: Path) -> Any:
    return cli(config, "check-config", "--connect")


def test_check_config_connect_names_the_failing_server(
        tmp_path: Path, fresh_inbox: Dovecot) -> None:
    with SmtpSink(username="bot", password="smtp-secret") as sink:
        good = connect_config(tmp_path, fresh_inbox, sink)
        upgrade(f"sqlite:///{tmp_path / 'cocbot.db'}")
        result = check_connect(good)
        assert result.exit_code == 0, result.output
        for name in ("database: OK", "imap: OK", "smtp: OK"):
            assert name in result.stdout

        wrong_imap = connect_config(tmp_path, fresh_inbox, sink,
                                    imap_password="not-the-password")
        result = check_connect(wrong_imap)
        assert result.exit_code == 1
        [line] = [x for x in result.stderr.splitlines() if "FAILED" in x]
        assert line.startswith("imap: FAILED") and "refused the login" in line
        assert "AUTHENTICATIONFAILED" in line or "Authentication failed" in line  # Dovecot's
        assert "not-the-password" not in result.output
        assert "smtp: OK" in result.stdout and "database: OK" in result.stdout

        wrong_smtp = connect_config(tmp_path, fresh_inbox, sink, smtp_password="nope")
        result = check_connect(wrong_smtp)
        assert result.exit_code == 1
        [line] = [x for x in result.stderr.splitlines() if "FAILED" in x]
        assert line.startswith("smtp: FAILED") and "535" in line  # aiosmtpd's words
        assert "imap: OK" in result.stdout

        unreachable = connect_config(
            tmp_path, fresh_inbox, sink,
            database=f"postgresql+psycopg://cocbot@127.0.0.1:{free_port()}/cocbot")
        result = check_connect(unreachable)
        assert result.exit_code == 1
        [line] = [x for x in result.stderr.splitlines() if "FAILED" in x]
        assert line.startswith("database: FAILED: database.url:")
        assert "Connection refused" in line
        assert "imap: OK" in result.stdout and "smtp: OK" in result.stdout


def reporters_mailed(sink: SmtpSink) -> Counter[str]:
    """How many mails each address outside the group got."""
    return Counter(r for m in sink.messages for r in m.rcpt_tos if r != CONDUCT)


def filed(config: Path) -> Counter[str]:
    return Counter(r[0] for r in db_rows(config, "select message_id from inboundmessage"))


def test_backup_while_running_then_restore_acts_on_nothing_twice(
        tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink) -> None:
    config = e2e_config(tmp_path, fresh_inbox, smtp_sink)
    upgrade(f"sqlite:///{tmp_path / 'cocbot.db'}")
    reports = {f"r{i}@mail.example": f"person{i}@reporters.example" for i in range(10)}

    def deliver(ids: list[str]) -> None:
        for mid in ids:
            fresh_inbox.append(make_mail(message_id=mid, sender=reports[mid],
                                         subject=f"Report {mid}"))
            time.sleep(0.05)  # a steady trickle, so the backup lands mid-stream

    ids = sorted(reports)
    with BotProcess(config) as bot:
        assert wait_until(lambda: "imap connected" in bot.log_text(), 15), bot.log_text()
        feeder = threading.Thread(target=deliver, args=(ids[:6],))
        feeder.start()
        assert wait_until(lambda: len(filed(config)) >= 2, 15), bot.log_text()
        # In this process (quicker to start than another one) while the bot runs in its own.
        assert cli(config, "db", "backup", str(tmp_path / "cocbot.backup")).exit_code == 0
        feeder.join()
        deliver(ids[6:])  # more mail after the backup
        last_append = time.time()
        assert wait_until(lambda: len(filed(config)) == 10, 20), bot.log_text()
        smtp_sink.wait_for(10, timeout=20)
        status = cli(config, "status", "--json")
        assert status.exit_code == 0 and json.loads(status.stdout)["healthy"], status.stdout
        assert json.loads(status.stdout)["running_since"] is not None
    before = reporters_mailed(smtp_sink)
    assert before == Counter(reports.values())  # one acknowledgement each
    # A report arrives while the bot is stopped for the restore: nobody handled it yet.
    # IMAP arrival times are whole seconds: wait (usually not at all) for the next one.
    assert wait_until(lambda: int(time.time()) > int(last_append), 2)
    fresh_inbox.append(make_mail(message_id="stopped@mail.example",
                                 sender="waiting@reporters.example"))

    restored = cli(config, "db", "restore", "--yes", str(tmp_path / "cocbot.backup"))
    assert restored.exit_code == 0 and "filed silently" in restored.stdout
    with BotProcess(config) as bot:
        assert wait_until(lambda: len(filed(config)) == 11, 20), bot.log_text()
        # New mail after the restore is a new report like any other, even with a Date
        # header from long before the backup (only the server's arrival time counts).
        fresh_inbox.append(make_mail(message_id="new@mail.example",
                                     sender="newcomer@reporters.example",
                                     date=datetime(2020, 1, 1, tzinfo=UTC)))
        smtp_sink.wait_for(12, timeout=20)
        # Give a second acknowledgement (the bug this guards against) time to show up.
        assert not wait_until(lambda: len(smtp_sink.messages) > 12, 1.5)
        assert bot.alive()
    assert filed(config) == Counter(
        {mid: 1 for mid in [*ids, "stopped@mail.example", "new@mail.example"]})
    after = reporters_mailed(smtp_sink)
    assert after - before == Counter({"waiting@reporters.example": 1,
                                      "newcomer@reporters.example": 1})
    assert len(db_rows(config, "select id from \"case\"")) == 12
