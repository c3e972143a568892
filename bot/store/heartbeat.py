"""Heartbeats: when each worker of `cocbot run` last did its job, for `cocbot status`.

A heartbeat is one `Setting` row per worker (``heartbeat:intake``), holding an
ISO-8601 moment.  Workers call `beat` after each successful contact with their
server; writes are throttled to one per `MIN_INTERVAL_SECONDS` per worker and
process, so a busy inbox costs no extra transactions.  A failed write is logged
and ignored: health reporting must never stop the work it reports on.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from bot.core.log import get_logger
from bot.store.models import Setting

log = get_logger("heartbeat")

PREFIX = "heartbeat:"
INTAKE = "intake"  # the inbox was read (IMAP search/IDLE round, or a Maildir scan)
SENDER = "sender"  # the sender looked at the outbox
# `cocbot run` started at this moment and has not stopped cleanly: one row per instance
# (``heartbeat:running:<host>:<pid>``), so one instance stopping does not hide another.
RUNNING = "running"
MIN_INTERVAL_SECONDS = 20.0

_last_write: dict[tuple[int, str], float] = {}
_lock = threading.Lock()


def beat(engine: Engine, name: str, at: datetime, *, force: bool = False) -> None:
    """Record that worker `name` was alive and in contact at `at` (aware UTC)."""
    key = (id(engine), name)
    now = time.monotonic()
    with _lock:
        last = _last_write.get(key)
        if not force and last is not None and now - last < MIN_INTERVAL_SECONDS:
            return
        _last_write[key] = now
    try:
        with Session(engine) as session:
            row = session.get(Setting, PREFIX + name)
            if row is None:
                row = Setting(key=PREFIX + name, value=at.isoformat())
            else:
                row.value = at.isoformat()
            session.add(row)
            session.commit()
    except SQLAlchemyError as exc:
        with _lock:
            _last_write.pop(key, None)
        log.warning("heartbeat not recorded", worker=name, error=type(exc).__name__)


def read_beats(session: Session) -> dict[str, datetime]:
    """Every worker's last heartbeat."""
    rows = session.exec(select(Setting).where(col(Setting.key).startswith(PREFIX))).all()
    out: dict[str, datetime] = {}
    for row in rows:
        try:
            out[row.key[len(PREFIX):]] = datetime.fromisoformat(row.value)
        except ValueError:
            continue
    return out


def _instance_key() -> str:
    return f"{PREFIX}{RUNNING}:{socket.gethostname()[:50]}:{os.getpid()}"


def running_since(session: Session) -> datetime | None:
    """When the earliest `cocbot run` on this database that has not stopped cleanly started."""
    starts = [when for name, when in read_beats(session).items()
              if name == RUNNING or name.startswith(f"{RUNNING}:")]
    return min(starts) if starts else None


def clear_running(session: Session) -> None:
    """Forget every instance's run marker (caller's transaction), e.g. after a restore."""
    for row in session.exec(select(Setting).where(
            col(Setting.key).startswith(f"{PREFIX}{RUNNING}"))).all():
        session.delete(row)


def mark_running(engine: Engine, at: datetime | None) -> None:
    """Record that this `cocbot run` started at `at`, or (None) that it stopped cleanly."""
    try:
        with Session(engine) as session:
            row = session.get(Setting, _instance_key())
            if at is None:
                if row is not None:
                    session.delete(row)
            else:
                row = row or Setting(key=_instance_key(), value="")
                row.value = at.isoformat()
                session.add(row)
            session.commit()
    except SQLAlchemyError as exc:
        log.warning("run marker not recorded", error=type(exc).__name__)
