"""Operators see what is wrong: check-config, status, one-line database errors, file modes."""

from __future__ import annotations

import json
import mailbox
import os
import stat
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from bot.cli.main import main
from bot.store.db import make_engine
from tests.helpers import MEMBERS, cocbot, config_dict, make_mail, write_config
from tests.servers import SmtpSink, free_port


def invoke(config: Path, *args: str) -> Any:
    """`cocbot --config CONFIG ARGS...` in this process (much faster than a subprocess)."""
    return CliRunner().invoke(main, ["--config", str(config), *args])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def maildir_config(tmp_path: Path, **sections: Any) -> Path:
    data = config_dict(f"sqlite:///{tmp_path / 'cocbot.db'}",
                       intake={"source": "maildir", "maildir": "inbox"}, **sections)
    return write_config(tmp_path / "cocbot.toml", data)


# -- check-config: the configuration against the manual -----------------------------------

BAD_CONFIGS = {
    "two members": ({"members": MEMBERS[:2]}, "members:"),
    "no chair": ({"members": [{**m, "role": "member"} for m in MEMBERS]}, "members:"),
    "no [auth]": ({"auth": {"authserv_id": ""}}, "auth.authserv_id:"),
    "invalid address": ({"members": [{**MEMBERS[0], "email": "maya@example..org"},
                                     *MEMBERS[1:]]}, "members.0.email"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_check_config_names_the_key(tmp_path: Path, case: str) -> None:
    overrides, key = BAD_CONFIGS[case]
    config = maildir_config(tmp_path, **overrides)
    result = CliRunner().invoke(main, ["--config", str(config), "check-config"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line]
    assert lines and all(line.startswith("cocbot: error: ") for line in lines)
    assert any(key in line for line in lines), lines
    assert "configuration OK" not in result.output


def test_run_refuses_a_roster_the_manual_does_not_allow(tmp_path: Path) -> None:
    config = maildir_config(tmp_path, members=MEMBERS[:2])
    result = invoke(config, "run", "--once")
    assert result.exit_code == 2
    assert "members: 2 member(s)" in result.stderr


def test_check_config_accepts_the_test_roster(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check-config", "--config",
                                       str(maildir_config(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "configuration OK" in result.output


# -- --config before or after the command -------------------------------------------------

def _leaves(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(command, click.Group):
        return [leaf for name, sub in command.commands.items()
                for leaf in _leaves(sub, (*path, name))]
    return [path]


def test_every_command_takes_config_after_its_name() -> None:
    for path in _leaves(main):
        command: click.Command = main
        for name in path:
            assert isinstance(command, click.Group)
            command = command.commands[name]
        opts = [o for p in command.params if isinstance(p, click.Option) for o in p.opts]
        assert "--config" in opts, path


def test_config_after_the_subcommand_is_used(tmp_path: Path) -> None:
    config = maildir_config(tmp_path)
    for args in (["db", "upgrade", "--config", str(config)],
                 ["db", "--config", str(config), "status"],
                 ["cases", "--json", "--config", str(config)]):
        result = CliRunner().invoke(main, args, env={"COCBOT_CONFIG": ""})
        assert result.exit_code == 0, (args, result.output)
    # After the command it wins over the one before it.
    result = CliRunner().invoke(main, ["--config", "/nonexistent.toml", "check-config",
                                       "--config", str(config)])
    assert result.exit_code == 0, result.output


# -- database failures: one line naming database.url, in every command ---------------------

def bad_urls(tmp_path: Path) -> dict[str, tuple[str, str]]:
    return {
        "malformed": ("postgresql://[::1", "not a database URL"),
        "missing folder": (f"sqlite:///{tmp_path / 'no' / 'such' / 'cocbot.db'}",
                           "the folder for the SQLite file does not exist"),
        "unreachable": (f"postgresql+psycopg://cocbot:pw@127.0.0.1:{free_port()}/cocbot",
                        "Connection refused"),
    }


COMMANDS = [["status"], ["db", "upgrade"], ["db", "status"], ["cases", "--json"],
            ["case", "home shelf"], ["run", "--once"], ["db", "backup", "x.bak"],
            ["db", "restore", "--yes", "BACKUP"], ["import", "BACKUP"], ["quarantine"],
            ["outbox"], ["members"], ["digest", "--dry-run"]]


@pytest.mark.parametrize("which", ["malformed", "missing folder", "unreachable"])
def test_database_failures_are_one_line_in_every_command(tmp_path: Path, which: str) -> None:
    url, words = bad_urls(tmp_path)[which]
    config = write_config(tmp_path / "c.toml", config_dict(
        url, intake={"source": "maildir", "maildir": "inbox"}))
    backup_file = tmp_path / "old.backup"
    backup_file.write_bytes(b"")
    for command in COMMANDS:
        args = [str(backup_file) if a == "BACKUP" else a for a in command]
        result = CliRunner().invoke(main, ["--config", str(config), *args])
        assert result.exit_code == 5, (args, result.output, result.exception)
        [line] = result.stderr.splitlines()
        assert line.startswith("cocbot: error: database.url: "), (args, line)
        assert words in line, (args, line)
        assert ":pw@" not in line and "pw" not in line.split("database.url", 1)[1]


def test_database_failure_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    url, _ = bad_urls(tmp_path)["unreachable"]
    config = write_config(tmp_path / "c.toml", config_dict(url))
    result = cocbot("status", config=config, check=False)
    assert result.returncode == 5
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "database.url" in result.stderr


# -- the SQLite file is private ------------------------------------------------------------

def test_sqlite_file_wal_and_shm_are_created_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        url = f"sqlite:///{tmp_path / 'new.db'}"
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("create table t (x integer)"))
            conn.execute(text("insert into t values (1)"))
            # While a connection is open, the -wal and -shm files exist.
            for suffix in ("", "-wal", "-shm"):
                path = tmp_path / f"new.db{suffix}"
                assert path.exists(), suffix
                assert mode(path) == 0o600, (suffix, oct(mode(path)))
        engine.dispose()
    finally:
        os.umask(old)


def test_db_upgrade_creates_a_private_file_and_tightens_an_old_one(tmp_path: Path) -> None:
    config = maildir_config(tmp_path)
    CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"])
    assert mode(tmp_path / "cocbot.db") == 0o600
    (tmp_path / "cocbot.db").chmod(0o644)  # as older releases left it
    result = CliRunner().invoke(main, ["--config", str(config), "cases"])
    assert result.exit_code == 0
    assert mode(tmp_path / "cocbot.db") == 0o600


# -- status --------------------------------------------------------------------------------

def status_json(config: Path) -> tuple[int, dict[str, Any]]:
    result = invoke(config, "status", "--json")
    return result.exit_code, json.loads(result.stdout)


def test_status_of_a_healthy_bot(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    config = maildir_config(tmp_path, smtp={"host": smtp_sink.host, "port": smtp_sink.port,
                                            "security": "none"})
    invoke(config, "db", "upgrade")
    box = mailbox.Maildir(str(tmp_path / "inbox"), create=True)
    box.add(make_mail(message_id="r1@mail.example"))
    box.close()
    assert invoke(config, "run", "--once").exit_code == 0
    assert smtp_sink.messages  # the acknowledgement went out
    code, report = status_json(config)
    assert code == 0, report
    assert report["healthy"] is True and report["problems"] == []
    assert report["last_intake_contact"] is not None
    assert report["last_successful_send"] is not None
    assert report["queue_length"] == 0 and report["oldest_unsent"] is None
    assert report["quarantined"] == 0 and report["failed_mail"] == 0
    assert report["schema"]["up_to_date"] is True
    human = invoke(config, "status")
    assert human.exit_code == 0 and "healthy" in human.stdout


def test_status_of_an_unhealthy_bot(tmp_path: Path) -> None:
    # The SMTP server is down, the inbox was last read long ago, a message is quarantined.
    config = maildir_config(tmp_path, smtp={"host": "127.0.0.1", "port": free_port(),
                                            "security": "none", "timeout": 2},
                            status={"max_queue_length": 0})
    invoke(config, "db", "upgrade")
    box = mailbox.Maildir(str(tmp_path / "inbox"), create=True)
    box.add(make_mail(message_id="r1@mail.example"))
    box.add(b"\x00\x01 not mail at all")
    box.close()
    # The SMTP server is down: `run --once` files the mail, then says it could not send.
    ran = invoke(config, "run", "--once", "--now", "2020-01-06T10:00:00Z")
    assert ran.exit_code == 6, ran.output
    code, report = status_json(config)
    assert code == 1
    assert report["healthy"] is False
    assert report["queue_length"] >= 1 and report["oldest_unsent"].startswith("2020-01-06")
    assert report["last_successful_send"] is None
    assert report["last_intake_contact"].startswith("2020-01-06")
    assert report["quarantined"] == 1
    problems = " | ".join(report["problems"])
    for bound in ("status.max_intake_silence_minutes", "status.max_queue_length",
                  "status.max_unsent_minutes", "status.max_quarantined"):
        assert bound in problems, problems
    human = invoke(config, "status")
    assert human.exit_code == 1 and "UNHEALTHY" in human.stdout


def test_status_says_the_bot_never_ran(tmp_path: Path) -> None:
    config = maildir_config(tmp_path)
    invoke(config, "db", "upgrade")
    code, report = status_json(config)
    assert code == 1 and any("never read" in p for p in report["problems"])


def test_check_config_connect_with_a_maildir_and_no_smtp_server(tmp_path: Path) -> None:
    port = free_port()
    config = maildir_config(tmp_path, smtp={"host": "127.0.0.1", "port": port,
                                            "security": "none", "timeout": 2})
    invoke(config, "db", "upgrade")
    (tmp_path / "inbox").mkdir()  # a folder, but not a Maildir
    result = invoke(config, "check-config", "--connect")
    assert result.exit_code == 1
    assert "database: OK" in result.stdout
    failed = [line for line in result.stderr.splitlines() if "FAILED" in line]
    assert [line.split(":", 1)[0] for line in failed] == ["maildir", "smtp"]
    assert "intake.maildir" in failed[0]
    assert f"127.0.0.1:{port}" in failed[1] and "smtp.host" in failed[1]
