"""Who runs the intake: one lease row, held by one instance, renewed by its heartbeat.

Several `cocbot run` on one PostgreSQL database: one holds the lease and does
all the work (intake, sender, scheduler); the others stand by and take the
lease over when it expires (`service.takeover_seconds` after the last
heartbeat) or at once when its holder is known to be dead.  The holder's
identity is host, process id and the process's start time, so an instance on
the same host sees a dead holder at once (a SIGKILL then an immediate
restart waits for nothing); an instance on another host waits out the lease.

Lease times use the real clock, never the `--now` moment.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col

from bot.store.db import session_scope

INTAKE = "intake"


class ServiceLease(SQLModel, table=True):
    """The one row per lease name: who holds it and until when."""

    __tablename__ = "servicelease"

    name: str = Field(primary_key=True, max_length=50)
    holder: str = Field(max_length=300)
    host: str = Field(max_length=255)
    pid: int
    started: str = Field(max_length=40)  # the holder process's start time (kernel ticks)
    acquired_at: datetime
    heartbeat_at: datetime
    expires_at: datetime


def wall_now() -> datetime:
    """The real time (leases never follow a frozen `--now`)."""
    return datetime.now(UTC)


def _process_start(pid: int) -> str | None:
    """The kernel's start time of process `pid`, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return "?"
        return "?"
    # Field 22 (starttime), counted after the parenthesised command name.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else "?"


@dataclass(frozen=True)
class Holder:
    """This process's identity as a lease holder."""

    host: str
    pid: int
    started: str
    nonce: str

    @classmethod
    def me(cls) -> Holder:
        """The identity of the running process (one per process)."""
        global _ME
        if _ME is None or _ME.pid != os.getpid():
            _ME = cls._new()
        return _ME

    @classmethod
    def _new(cls) -> Holder:
        return cls(host=_host_identity(), pid=os.getpid(),
                   started=_process_start(os.getpid()) or "?", nonce=uuid.uuid4().hex[:8])

    @property
    def text(self) -> str:
        """How the holder is written in the lease row."""
        return f"{self.host}:{self.pid}:{self.nonce}"


_ME: Holder | None = None


def _host_identity() -> str:
    """The host name plus the process-id namespace: two containers may share a host name
    (and both run as pid 1), but a process id only means something within its namespace."""
    try:
        namespace = os.readlink("/proc/self/ns/pid").split("[", 1)[-1].rstrip("]")
    except OSError:
        namespace = ""
    name = socket.gethostname()
    return f"{name}/{namespace}"[:255] if namespace else name[:255]


def holder_is_dead(row: ServiceLease, me: Holder) -> bool:
    """True when `row`'s holder is certainly gone (same host, its process has ended).

    The same process id with the same start time as ours is this very process
    before a SIGHUP re-exec: its earlier lease is ours to take at once.
    """
    if row.host != me.host:
        return False
    if row.pid == me.pid and row.started == me.started:
        return True
    started = _process_start(row.pid)
    return started is None or (started != "?" and row.started != "?" and started != row.started)


@dataclass
class LeaseState:
    """The answer of one attempt to take the lease."""

    held: bool
    holder: str | None = None  # who holds it when we do not
    took_over: str | None = None  # whose lease we took (dead or expired holder)


def try_acquire(engine: Engine, me: Holder, ttl: float, name: str = INTAKE) -> LeaseState:
    """Take or renew the lease `name` if it is free, ours, expired or its holder is dead."""
    now = wall_now()
    expires = now + timedelta(seconds=ttl)
    try:
        with session_scope(engine) as session:
            row = _locked(session, name)
            if row is None:
                session.add(ServiceLease(name=name, holder=me.text, host=me.host, pid=me.pid,
                                         started=me.started, acquired_at=now,
                                         heartbeat_at=now, expires_at=expires))
                return LeaseState(held=True)
            previous: str | None = None
            if row.holder != me.text:
                if row.expires_at > now and not holder_is_dead(row, me):
                    return LeaseState(held=False, holder=row.holder)
                previous = row.holder
                row.holder, row.host, row.pid, row.started = me.text, me.host, me.pid, \
                    me.started
                row.acquired_at = now
            row.heartbeat_at, row.expires_at = now, expires
            session.add(row)
            return LeaseState(held=True, took_over=previous)
    except IntegrityError:
        # Another instance inserted the row first.
        return LeaseState(held=False)


def _locked(session: Session, name: str) -> ServiceLease | None:
    """The lease row, locked for this transaction where the database can (PostgreSQL)."""
    from sqlmodel import select

    query = select(ServiceLease).where(ServiceLease.name == name)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.exec(query).first()


def renew(engine: Engine, me: Holder, ttl: float, name: str = INTAKE) -> bool:
    """Extend our lease (the heartbeat); False when it is no longer ours."""
    now = wall_now()
    with session_scope(engine) as session:
        result = session.execute(
            update(ServiceLease)
            .where(col(ServiceLease.name) == name, col(ServiceLease.holder) == me.text)
            .values(heartbeat_at=now, expires_at=now + timedelta(seconds=ttl))
        )
        return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def release(engine: Engine, me: Holder, name: str = INTAKE) -> None:
    """Give the lease up (a clean stop): a standby takes over at once."""
    with session_scope(engine) as session:
        session.execute(delete(ServiceLease).where(col(ServiceLease.name) == name,
                                                   col(ServiceLease.holder) == me.text))
