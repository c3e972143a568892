"""Backups and restores of the records: a consistent copy, taken while the bot runs.

SQLite: Python's `sqlite3.Connection.backup` (SQLite's online backup API)
copies a consistent snapshot, including what is still in the `-wal` file,
into one self-contained file created 0600.  A restore copies it back the same
way, into the live file, so other connections see the old or the new records,
never a mixture.

PostgreSQL: `pg_dump --format=custom` (a consistent snapshot from one
transaction) and `pg_restore --clean --if-exists --single-transaction`; the
password goes to them in the environment (PGPASSWORD), never on the command line.

Every backup records the moment it was taken (`backup:taken_at`, written to
the live database just before the copy, so the copy holds it); every restore
records its own moment (`backup:restored_at`) and the moment before which
inbox mail counts as already handled (`backup:silent_before`).  Between the
backup and the restore the replaced bot may have acknowledged, reminded and
sent; what the replaced database still tells about that is read before it is
overwritten (`read_replaced`).  See `bot.service.restore`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import overload

from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError
from sqlmodel import Session

from bot.store.dburl import PRIVATE_MODE, describe_error, parse_url, prepare_url, sqlite_path
from bot.store.models import Outbox, Setting

BACKUP_AT = "backup:taken_at"
RESTORED_AT = "backup:restored_at"
SILENT_BEFORE = "backup:silent_before"


class BackupError(Exception):
    """A backup or restore could not be made; the message says why."""


def restored_at(engine: Engine) -> datetime | None:
    """When these records were last restored from a backup (None: never)."""
    return _setting_time(engine, RESTORED_AT)


def silent_before(engine: Engine) -> datetime | None:
    """After a restore: inbox mail that arrived before this was handled already."""
    return _setting_time(engine, SILENT_BEFORE)


@dataclass(frozen=True)
class Replaced:
    """What the database a restore overwrites knew: read just before it is overwritten."""

    # Inbox mail that arrived before this was handled by the replaced bot.
    handled_until: datetime | None
    # The replaced bot's last sign of life (heartbeat, event, sent mail).
    active_until: datetime | None
    # Message-ID -> (status, sent_at) of every mail in its outbox.
    outbox: dict[str, tuple[str, datetime | None]] = field(default_factory=dict)
    # Its outbox rows not (fully) sent, with the code name of their case: what it decided
    # to send and had not sent, or that failed, is carried over to the restored records.
    pending: list[tuple[Outbox, str | None]] = field(default_factory=list)


def read_replaced(engine: Engine) -> Replaced | None:
    """What the records about to be replaced know; None when there are none (a new machine)."""
    from sqlalchemy import func
    from sqlmodel import select

    from bot.store.heartbeat import INTAKE, SENDER, read_beats
    from bot.store.models import Case, Event, InboundMessage

    try:
        with Session(engine) as session:
            last_mail = session.exec(select(func.max(InboundMessage.received_at))).one()
            earlier = session.get(Setting, SILENT_BEFORE)
            beats = read_beats(session)
            last_event = session.exec(select(func.max(Event.at))).one()
            last_sent = session.exec(select(func.max(Outbox.sent_at))).one()
            outbox = {mid: (status, _utc(sent)) for mid, status, sent in session.exec(
                select(Outbox.message_id, Outbox.status, Outbox.sent_at)).all()}
            pending = []
            for row in session.exec(select(Outbox).where(Outbox.status != "sent")).all():
                case = session.get(Case, row.case_id) if row.case_id else None
                session.expunge(row)
                pending.append((row, case.code if case else None))
    except SQLAlchemyError:
        return None
    # The last handled message's own second counts as handled (IMAP times are whole seconds).
    handled: list[datetime | None] = [
        _utc(last_mail).replace(microsecond=0) + timedelta(seconds=1)
        if last_mail is not None else None]
    if earlier is not None:
        with contextlib.suppress(ValueError):
            handled.append(_utc(datetime.fromisoformat(earlier.value)))
    active: list[datetime | None] = [beats.get(INTAKE), beats.get(SENDER), _utc(last_event),
                                     _utc(last_sent)]
    return Replaced(handled_until=_latest(handled), active_until=_latest(active),
                    outbox=outbox, pending=pending)


def _latest(values: Sequence[datetime | None]) -> datetime | None:
    known = [_utc(v) for v in values if v is not None]
    return max(known) if known else None


@overload
def _utc(value: datetime) -> datetime: ...
@overload
def _utc(value: None) -> None: ...
def _utc(value: datetime | None) -> datetime | None:
    """Aware UTC (SQLite hands back naive datetimes for what was stored as UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def backup_taken_at(engine: Engine) -> datetime | None:
    """When the backup these records came from was taken (None: unknown)."""
    return _setting_time(engine, BACKUP_AT)


def _setting_time(engine: Engine, key: str) -> datetime | None:
    try:
        with Session(engine) as session:
            row = session.get(Setting, key)
    except SQLAlchemyError:
        return None
    if row is None:
        return None
    try:
        return datetime.fromisoformat(row.value)
    except ValueError:
        return None


def set_time(session: Session, key: str, at: datetime) -> None:
    """Record moment `at` under `key` (caller's transaction)."""
    row = session.get(Setting, key) or Setting(key=key, value="")
    row.value = at.isoformat()
    session.add(row)


def _private_file(path: Path) -> None:
    """Create `path` empty, readable by its owner only; refuse to overwrite anything."""
    if not path.parent.is_dir():
        raise BackupError(f"the folder {path.parent} does not exist")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        raise BackupError(f"{path} exists already; choose a new file name") from None
    except OSError as exc:
        raise BackupError(f"cannot create {path}: {exc.strerror}") from None
    os.close(fd)


def backup(url: str, engine: Engine, dest: Path, now: datetime) -> str:
    """Write a consistent copy of the database at `url` to `dest`; returns a description."""
    try:
        with Session(engine) as session:
            set_time(session, BACKUP_AT, now)
            session.commit()
    except (OperationalError, ProgrammingError) as exc:
        line = describe_error(exc) or ""
        if isinstance(exc, OperationalError) and "no cocbot tables" not in line:
            raise  # unreachable: the command line turns it into its one-line error
        raise BackupError("the database has no cocbot tables yet; nothing to back up") from None
    _private_file(dest)
    try:
        source = sqlite_path(url)
        if source is not None:
            _sqlite_backup(source, dest)
            return f"SQLite online backup of {source}"
        _pg_dump(parse_url(url), dest)
        return "pg_dump (custom format)"
    except BaseException:
        with contextlib.suppress(OSError):
            dest.unlink()
        raise


def _sqlite_backup(source: Path, dest: Path) -> None:
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)
        # One self-contained file: no -wal beside the copy.
        dst.execute("PRAGMA journal_mode=DELETE")
        verdict = dst.execute("PRAGMA quick_check").fetchone()
        if verdict is None or verdict[0] != "ok":
            raise BackupError(f"the copy failed its integrity check: {verdict}")
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup failed: {exc}") from None
    finally:
        dst.close()
        src.close()


def restore(url: str, source: Path) -> str:
    """Replace the records at `url` with the backup at `source`; returns a description."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    target = sqlite_path(url)
    if target is not None:
        _sqlite_restore(source, target)
        return f"SQLite backup copied into {target}"
    _pg_restore(parse_url(url), source)
    return "pg_restore"


def _sqlite_restore(source: Path, target: Path) -> None:
    try:
        src = sqlite3.connect(source)
    except sqlite3.Error as exc:
        raise BackupError(f"{source} cannot be opened: {exc}") from None
    try:
        try:
            tables = {r[0] for r in src.execute("select name from sqlite_master")}
        except sqlite3.DatabaseError:
            raise BackupError(f"{source} is not a SQLite database") from None
        if "alembic_version" not in tables or "inboundmessage" not in tables:
            raise BackupError(f"{source} is not a cocbot backup (no cocbot tables)")
        prepare_url(f"sqlite:///{target}")  # creates it 0600 on a new machine
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst)
        except sqlite3.Error as exc:
            raise BackupError(f"restoring into {target} failed: {exc}") from None
        finally:
            dst.close()
    finally:
        src.close()


def _pg_env(url: URL) -> dict[str, str]:
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return env


def _pg_conninfo(url: URL) -> str:
    """A libpq URI without the password (that goes in PGPASSWORD)."""
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False)


def _pg_tool(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        raise BackupError(f"{name} is not installed (Debian package postgresql-client)")
    return tool


def _pg_run(args: list[str], url: URL) -> None:
    try:
        result = subprocess.run(args, env=_pg_env(url), capture_output=True, text=True,
                                check=False, timeout=3600)
    except OSError as exc:
        raise BackupError(f"{args[0]} could not start: {exc.strerror}") from None
    if result.returncode != 0:
        words = " ".join(result.stderr.split())[:400] or f"exit status {result.returncode}"
        raise BackupError(f"{Path(args[0]).name} failed: {words}")


def _pg_dump(url: URL, dest: Path) -> None:
    _pg_run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
             f"--file={dest}", f"--dbname={_pg_conninfo(url)}"], url)


def _pg_restore(url: URL, source: Path) -> None:
    _pg_run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner",
             "--no-privileges", "--single-transaction", "--exit-on-error",
             f"--dbname={_pg_conninfo(url)}", str(source)], url)
