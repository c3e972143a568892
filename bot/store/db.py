"""Database engine, sessions and schema-version checks (alembic)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Integer, any_, bindparam, create_engine, event, inspect
from sqlmodel import Session

from bot.core.resources import shipped_dir
from bot.store.dburl import prepare_url

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# The alembic scripts live at the top of the project (migrations/), beside bot/.


class SchemaOutOfDate(Exception):
    """The database schema is not at the newest migration."""


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets foreign keys and a busy timeout."""
    prepare_url(url)  # one-line errors for a bad URL or folder; a private SQLite file
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
        # An unreachable server fails a connection attempt in bounded time (the
        # callers retry), instead of hanging a worker on a dead network path.
        kwargs["connect_args"] = {"connect_timeout": 10}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            # Deleted and overwritten content is zeroed on disk, so a purge or an
            # identity scrub leaves nothing behind in free pages.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

    return engine


def alembic_config(url: str) -> AlembicConfig:
    """An alembic Config pointing at the packaged migrations."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(shipped_dir("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    from alembic import command

    prepare_url(url)
    command.upgrade(alembic_config(url), revision)


# A migration's header lines: `revision: str = "0009"`, `down_revision: ... = "0008"`.
_REVISION_RE = re.compile(r'^revision\b[^=\n]*=\s*["\']([^"\']+)["\']', re.MULTILINE)
_DOWN_RE = re.compile(r'^down_revision\b[^=\n]*=\s*(?:None|["\']([^"\']+)["\'])', re.MULTILINE)


def head_revision() -> str | None:
    """The newest migration's revision id.

    Read from the migration files' header lines as text (`file_head`): every
    command checks the schema at start, and importing alembic to do it cost a
    tenth of a second each time.  When the files do not plainly name one head,
    alembic decides.
    """
    return file_head() or _alembic_head()


def file_head() -> str | None:
    """The one head the migration files' header lines name, or None when unsure."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((shipped_dir("migrations") / "versions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        rev, down = _REVISION_RE.search(text), _DOWN_RE.search(text)
        if rev is None or down is None:
            return None
        revisions.add(rev.group(1))
        if down.group(1):
            parents.add(down.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _alembic_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    if len(rows) > 1:  # several branches: alembic's own answer
        from alembic.runtime.migration import MigrationContext

        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    return str(rows[0][0]) if rows else None


def schema_status(engine: Engine) -> tuple[str | None, str | None]:
    """(current revision in the database, newest revision available)."""
    return current_revision(engine), head_revision()


def require_current_schema(engine: Engine) -> None:
    """Raise SchemaOutOfDate with a helpful message unless the schema is at head."""
    current, head = schema_status(engine)
    if current != head:
        where = "empty" if current is None else f"at revision {current}"
        raise SchemaOutOfDate(
            f"database schema is out of date ({where}, newest is {head}): "
            "run `cocbot db upgrade` first"
        )


def among(session: Session, column: Any, ids: Sequence[int]) -> Any:
    """`column IN ids`; on PostgreSQL one array parameter instead of one per id.

    Hundreds of bound ids per query cost more to render and send than the query
    took to run: the digest over 10,000 cases read a third faster this way.
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))
    return column.in_(ids)


class FairLock:
    """A first-come, first-served lock, re-entrant in the thread that holds it.

    SQLite lets one writer in at a time and makes the others poll with growing
    sleeps; a thread that writes back to back (intake during a catch-up) then
    starves the others (the sender: acknowledgements waited seconds).  Within
    one process, transactions on a SQLite database take turns here instead.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._owner: int | None = None
        self._depth = 0

    def acquire(self) -> None:
        """Wait for our turn (at once when this thread already holds the lock)."""
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving or self._owner is not None:
                self._cond.wait()
            self._owner, self._depth = me, 1

    def release(self) -> None:
        """Give the turn to the next waiting thread."""
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._serving += 1
                self._cond.notify_all()


_sqlite_turns: dict[str, FairLock] = {}
_turns_guard = threading.Lock()


def _turns(engine: Engine) -> FairLock | None:
    if engine.dialect.name != "sqlite":
        return None
    key = str(engine.url)
    with _turns_guard:
        return _sqlite_turns.setdefault(key, FairLock())


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    turns = _turns(engine)
    if turns is not None:
        turns.acquire()
    try:
        with Session(engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        if turns is not None:
            turns.release()
