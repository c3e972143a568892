"""Opening the configured database: URL checks, a private SQLite file, one-line errors.

An operator who mistypes `database.url`, points it at a folder that does not
exist, or whose PostgreSQL server is down gets one line naming the setting and
the reason (the server's own words), never a traceback.  Every command goes
through `bot.store.db.make_engine` / `upgrade`, which call `prepare_url`; the
command line turns `DatabaseUnavailable` and SQLAlchemy's connection errors
into that line (see `describe_error`).

The SQLite file holds confidential records, so it is created readable by its
owner only (0600); SQLite gives its `-wal` and `-shm` files the database
file's mode.  An existing file that others may read is tightened the same way.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, NoSuchModuleError, OperationalError

SETTING = "database.url"
PRIVATE_MODE = 0o600
_SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


class DatabaseUnavailable(Exception):
    """The configured database cannot be opened or reached; the message names the setting."""


def parse_url(url: str) -> URL:
    """The parsed URL, or DatabaseUnavailable saying what form is expected."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # Never echo the URL: it may carry a password.
        raise DatabaseUnavailable(
            f"{SETTING}: not a database URL (expected sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DATABASE)") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseUnavailable(f"{SETTING}: unsupported database "
                                  f"{parsed.get_backend_name()!r} (use sqlite or postgresql)")
    return parsed


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def prepare_url(url: str) -> None:
    """Check `url` before use; for SQLite make sure the file exists, private, in a real folder."""
    path = sqlite_path(url)
    if path is None:
        return
    folder = path.parent
    if not folder.is_dir():
        raise DatabaseUnavailable(
            f"{SETTING}: the folder for the SQLite file does not exist: {folder}")
    if path.exists():
        secure_file(path)
        return
    try:
        # O_EXCL: if another process creates it in between, theirs stands (then tightened).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        secure_file(path)
        return
    except OSError as exc:
        raise DatabaseUnavailable(
            f"{SETTING}: cannot create the SQLite file {path}: {exc.strerror}") from None
    os.close(fd)


def secure_file(path: Path) -> None:
    """Take group and other access away from the SQLite file and its companions we own."""
    for suffix in _SQLITE_SUFFIXES:
        companion = Path(f"{path}{suffix}")
        with contextlib.suppress(OSError):  # gone, or not ours: nothing we may change
            mode = stat.S_IMODE(companion.stat().st_mode)
            if mode & 0o077:
                companion.chmod(mode & 0o700)


def describe_error(exc: BaseException) -> str | None:
    """One line for a failure to open or reach the database, or None if it is not one."""
    seen: BaseException | None = exc
    for _ in range(5):  # the error itself, or what it was raised from
        if seen is None:
            break
        line = _describe(seen)
        if line is not None:
            return line
        seen = seen.__cause__
    return None


def _describe(exc: BaseException) -> str | None:
    if isinstance(exc, DatabaseUnavailable):
        return str(exc)
    if isinstance(exc, NoSuchModuleError | ArgumentError):
        return f"{SETTING}: not a usable database URL ({type(exc).__name__})"
    if isinstance(exc, OperationalError | InterfaceError):
        words = _first_line(str(exc.orig)) if exc.orig is not None else type(exc).__name__
        if words.startswith("no such table"):
            return (f"{SETTING}: the database has no cocbot tables ({words}); "
                    "run `cocbot db upgrade`")
        return f"{SETTING}: cannot open or reach the database: {words}"
    return None


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return (lines[0] if lines else "unknown error")[:300]
