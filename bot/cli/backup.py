"""`cocbot db backup PATH` / `cocbot db restore PATH`: keep the records, bring them back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from bot.cli.common import CliState, fail, pass_state


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@pass_state
def backup_cmd(state: CliState, path: Path) -> None:
    """Write a consistent copy of the database to PATH (a new file, mode 0600).

    Safe while `cocbot run` is running: SQLite's online backup API, or pg_dump
    (custom format) for PostgreSQL.
    """
    from bot.store.backup import BackupError, backup
    from bot.store.db import make_engine

    url = state.config.database.url
    # No schema check: a backup before `cocbot db upgrade` is exactly when one is wanted.
    engine = make_engine(url)
    try:
        how = backup(url, engine, path, datetime.now(UTC))
    except BackupError as exc:
        fail(f"backup failed: {exc}")
    click.echo(f"backup written to {path} ({how})")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the records.")
@click.option("--force", is_flag=True,
              help="Restore even though `cocbot run` did not stop cleanly (it crashed).")
@pass_state
def restore_cmd(state: CliState, path: Path, yes: bool, force: bool) -> None:
    """Replace the records with the backup at PATH (stop `cocbot run` first).

    Afterwards the bot does not act twice on what it handled before the restore.
    The records being replaced are read first: mail the replaced bot handled is
    filed again silently, mail that arrived later is new; mail queued in the
    backup is marked sent, sent, or (when nobody can tell) held for `cocbot
    outbox retry`; reminders and digests already due count as sent.
    """
    from bot.service.restore import after_restore
    from bot.store.backup import BackupError, read_replaced, restore
    from bot.store.db import make_engine, upgrade

    url = state.config.database.url
    # Reach the database first, so a wrong URL or a server that is down is one clear line.
    make_engine(url).connect().close()
    running = _running_since(url)
    if running is not None and not force:
        fail(f"`cocbot run` is running on this database (started {running}) or did not stop "
             "cleanly: stop it first (a bot still running would act again on mail the "
             "restore takes back); pass --force if it crashed")
    if not yes and not click.confirm(
            "Replace every record in the configured database with this backup?"):
        fail("restore cancelled; nothing was changed")
    # What the records about to be replaced know of the time since the backup.
    current = make_engine(url)
    replaced = read_replaced(current)
    current.dispose()
    try:
        how = restore(url, path)
    except BackupError as exc:
        fail(f"restore failed: {exc}")
    # A backup from an older release: bring its schema up to date before marking it.
    upgrade(url)
    report = after_restore(state.config, make_engine(url), datetime.now(UTC), replaced)
    taken = (report.backup_taken_at.strftime("%Y-%m-%d %H:%M:%S UTC")
             if report.backup_taken_at else "unknown")
    click.echo(f"restored from {path} ({how}); backup taken {taken}")
    click.echo(f"mail that arrived before {report.silent_before:%Y-%m-%d %H:%M:%S} UTC will be "
               "filed silently")
    click.echo(f"{report.sent_before} queued mail(s) were sent before the restore, "
               f"{report.held_mail} held (see `cocbot outbox`), "
               f"{report.carried_over} unsent or failed mail(s) kept from the replaced records, "
               f"{report.reminders_assumed} reminder(s) counted as sent, "
               f"{report.digests_claimed} digest(s) claimed")


def _running_since(url: str) -> str | None:
    """When the `cocbot run` that has not stopped cleanly started (None: none has)."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import Session

    from bot.store.db import make_engine
    from bot.store.heartbeat import running_since

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            started = running_since(session)
    except SQLAlchemyError:
        return None  # nothing there yet (a new machine): nothing is running on it
    finally:
        engine.dispose()
    return started.strftime("%Y-%m-%d %H:%M:%S UTC") if started else None


def register(group: click.Group) -> None:
    """Add `backup` and `restore` to the `db` command group."""
    group.add_command(backup_cmd)
    group.add_command(restore_cmd)
