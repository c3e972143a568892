"""`cocbot db backup` / `db restore`: a consistent copy, and nothing done twice after it."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from bot.cli.main import main
from bot.clocks.digest import run_digests
from bot.clocks.reminders import run_reminders
from bot.core.events import EventKind
from bot.intake.filer import backfill_cutoff
from bot.service.restore import HELD_REASON, after_restore
from bot.store.backup import backup, restore, restored_at
from bot.store.models import Case, DigestClaim, Event, Outbox
from tests.helpers import config_dict, file, make_app, make_mail, write_config


def invoke(config: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def case_count(app: Any) -> int:
    with Session(app.engine) as session:
        return len(session.exec(select(Case)).all())


def test_backup_and_restore_round_trip(db_url: str, tmp_path: Path) -> None:
    app = make_app(db_url)
    config = write_config(tmp_path / "c.toml", config_dict(db_url))
    file(app, make_mail(message_id="before@mail.example"))
    dest = tmp_path / "cocbot.backup"
    result = invoke(config, "db", "backup", str(dest))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    # A backup never overwrites a file.
    again = invoke(config, "db", "backup", str(dest))
    assert again.exit_code == 1 and "exists already" in again.stderr
    file(app, make_mail(message_id="after@mail.example", sender="other@mail.example"))
    assert case_count(app) == 2
    app.engine.dispose()
    result = invoke(config, "db", "restore", "--yes", str(dest))
    assert result.exit_code == 0, result.output
    assert "filed silently" in result.stdout
    assert case_count(app) == 1
    assert restored_at(app.engine) is not None


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cocbot.db'}"
    app = make_app(url)
    file(app, make_mail(message_id="kept@mail.example"))
    config = write_config(tmp_path / "c.toml", config_dict(url))
    junk = tmp_path / "junk.bak"
    junk.write_bytes(b"this is not a database" * 100)
    result = invoke(config, "db", "restore", "--yes", str(junk))
    assert result.exit_code == 1
    assert "restore failed" in result.stderr and "not a SQLite database" in result.stderr
    assert case_count(app) == 1  # nothing was touched


def test_restore_without_yes_asks_and_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cocbot.db'}"
    app = make_app(url)
    config = write_config(tmp_path / "c.toml", config_dict(url))
    assert invoke(config, "db", "backup", str(tmp_path / "b")).exit_code == 0
    file(app, make_mail(message_id="kept@mail.example"))
    result = CliRunner().invoke(main, ["--config", str(config), "db", "restore",
                                       str(tmp_path / "b")], input="n\n")
    assert result.exit_code == 1 and "cancelled" in result.stderr
    assert case_count(app) == 1


# A Monday before working hours; the restore happens on Wednesday morning.
MONDAY = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
WEDNESDAY = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def test_after_restore_nothing_handled_before_is_done_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cocbot.db'}"
    app = make_app(url, clock=MONDAY)
    file(app, make_mail(message_id="r1@mail.example", date=MONDAY))
    with Session(app.engine) as session:
        [ack] = session.exec(select(Outbox).where(Outbox.kind == "acknowledgement")).all()
    # The backup is taken while the acknowledgement is still queued.
    backup(url, app.engine, tmp_path / "b", MONDAY + timedelta(minutes=1))
    app.engine.dispose()
    restore(url, tmp_path / "b")
    report = after_restore(app.config, app.engine, WEDNESDAY)
    assert report.held_mail == 1
    assert report.backup_taken_at == MONDAY + timedelta(minutes=1)
    with Session(app.engine) as session:
        row = session.get(Outbox, ack.id)
        assert row is not None and row.status == "failed" and row.last_error == HELD_REASON
        held = session.exec(select(Event).where(
            Event.kind == EventKind.MAIL_HELD_AT_RESTORE)).all()
        assert [e.message_id for e in held] == [ack.message_id]
        days = {c.day for c in session.exec(select(DigestClaim)).all()}
    # Monday's, Tuesday's and Wednesday's digests fell between backup and restore.
    assert days == {MONDAY.date(), MONDAY.date() + timedelta(days=1), WEDNESDAY.date()}
    app.clock = lambda: WEDNESDAY + timedelta(minutes=5)
    # The acknowledgement clock (24 h) ran out in between: its reminder counts as sent.
    assert run_reminders(app) == 0
    assert run_digests(app) == 0
    # Mail that arrived before the restore moment is old mail.
    assert backfill_cutoff(app, "imap:INBOX") >= WEDNESDAY
    # Reminders are delayed by one repeat interval, not silenced.
    app.clock = lambda: WEDNESDAY + timedelta(hours=25)
    assert run_reminders(app) >= 1


@pytest.mark.parametrize("held", [0, 1])
def test_a_restore_with_nothing_queued_holds_nothing(tmp_path: Path, held: int) -> None:
    url = f"sqlite:///{tmp_path / 'cocbot.db'}"
    app = make_app(url, clock=MONDAY)
    if held:
        file(app, make_mail(message_id="r1@mail.example", date=MONDAY))
    else:
        file(app, make_mail(message_id="r1@mail.example", date=MONDAY), backfill=True)
    report = after_restore(app.config, app.engine, WEDNESDAY)
    assert report.held_mail == held


def test_backup_of_an_empty_database_says_so(db_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", config_dict(db_url))
    result = invoke(config, "db", "backup", str(tmp_path / "b"))
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().endswith("no cocbot tables yet; nothing to back up")
    assert not (tmp_path / "b").exists()


def test_backup_before_an_upgrade_is_allowed(tmp_path: Path) -> None:
    from bot.store.db import upgrade

    url = f"sqlite:///{tmp_path / 'cocbot.db'}"
    upgrade(url, "0001")  # the oldest schema there is
    config = write_config(tmp_path / "c.toml", config_dict(url))
    assert invoke(config, "db", "backup", str(tmp_path / "b")).exit_code == 0


def test_restore_refuses_while_a_bot_runs_on_the_database(tmp_path: Path) -> None:
    from bot.store.heartbeat import mark_running

    url = f"sqlite:///{tmp_path / 'cocbot.db'}"
    app = make_app(url)
    config = write_config(tmp_path / "c.toml", config_dict(url))
    mark_running(app.engine, MONDAY)  # as `cocbot run` does when it starts
    assert invoke(config, "db", "backup", str(tmp_path / "b")).exit_code == 0
    file(app, make_mail(message_id="kept@mail.example"))
    result = invoke(config, "db", "restore", "--yes", str(tmp_path / "b"))
    assert result.exit_code == 1 and "stop it first" in result.stderr
    assert case_count(app) == 1
    # After a crash the operator says so; the marker copied into the backup is dropped.
    result = invoke(config, "db", "restore", "--yes", "--force", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    assert case_count(app) == 0
    # The restored records carry no marker: no bot has run on them since.
    assert invoke(config, "db", "restore", "--yes", str(tmp_path / "b")).exit_code == 0


def test_one_instance_stopping_does_not_hide_another(tmp_path: Path) -> None:
    from bot.store.heartbeat import mark_running, running_since
    from bot.store.models import Setting

    app = make_app(f"sqlite:///{tmp_path / 'cocbot.db'}")
    with Session(app.engine) as session:  # another host's instance, started earlier
        session.add(Setting(key="heartbeat:running:other-host:4242",
                            value=MONDAY.isoformat()))
        session.commit()
    mark_running(app.engine, WEDNESDAY)
    mark_running(app.engine, None)  # this instance stops cleanly
    with Session(app.engine) as session:
        assert running_since(session) == MONDAY


def test_restore_uses_what_the_replaced_records_knew(tmp_path: Path) -> None:
    from bot.filing.context import Origin
    from bot.intake.filer import file_raw
    from bot.store.backup import read_replaced

    url = f"sqlite:///{tmp_path / 'cocbot.db'}"
    app = make_app(url, clock=MONDAY)
    file(app, make_mail(message_id="r1@mail.example", date=MONDAY))
    file(app, make_mail(message_id="r2@mail.example", sender="two@mail.example", date=MONDAY))
    with Session(app.engine) as session:
        acks = {r.message_id: r for r in session.exec(select(Outbox)).all()}
    assert len(acks) == 2
    backup(url, app.engine, tmp_path / "b", MONDAY + timedelta(minutes=1))
    # After the backup the bot delivered the first acknowledgement, not the second, and
    # filed one more report that arrived at 09:30:15.
    first, second = sorted(acks)
    with Session(app.engine) as session:
        row = session.exec(select(Outbox).where(Outbox.message_id == first)).one()
        row.status, row.sent_at = "sent", MONDAY + timedelta(minutes=2)
        session.add(row)
        session.commit()
    arrived = MONDAY.replace(hour=9, minute=30, second=15)
    file_raw(app, make_mail(message_id="r3@mail.example", sender="three@mail.example"),
             Origin(source="test", received_at=arrived))
    replaced = read_replaced(app.engine)
    assert replaced is not None
    assert replaced.handled_until == arrived + timedelta(seconds=1)
    app.engine.dispose()
    restore(url, tmp_path / "b")
    report = after_restore(app.config, app.engine, WEDNESDAY, replaced)
    assert (report.sent_before, report.held_mail, report.carried_over) == (1, 0, 1)
    assert report.silent_before == arrived + timedelta(seconds=1)
    with Session(app.engine) as session:
        status = {r.message_id: r.status for r in session.exec(select(Outbox)).all()}
    # The second still goes out once; so does the third report's acknowledgement, which the
    # replaced bot queued but never sent (its report is filed again silently).
    [third] = set(status) - {first, second}
    assert status == {first: "sent", second: "queued", third: "queued"}
    # Mail that arrived after the last one the replaced bot handled is new mail.
    assert backfill_cutoff(app, "imap:INBOX") == arrived + timedelta(seconds=1)
