"""Operator view of the quarantine: list, show, retry."""

from __future__ import annotations

from collections.abc import Iterator
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from sqlmodel import Session, col, select

from bot.core.app import App
from bot.filing.context import Origin, Status
from bot.filing.pipeline import process_message
from bot.intake.filer import database_outage
from bot.store.db import session_scope
from bot.store.models import Quarantine


def list_quarantine(app: App, *, include_released: bool = False) -> list[dict[str, Any]]:
    """Quarantine entries, oldest first, as dicts."""
    with Session(app.engine) as session:
        query = select(Quarantine).order_by(col(Quarantine.id))
        if not include_released:
            query = query.where(Quarantine.released_at == None)  # noqa: E711
        return [
            {"id": q.id, "created_at": q.created_at.isoformat(), "kind": q.kind,
             "size": q.size, "reason": q.reason, "source": q.source,
             "headers_only": q.headers_only,
             "released_at": q.released_at.isoformat() if q.released_at else None}
            for q in session.exec(query).all()
        ]


def show_quarantine(app: App, qid: int) -> str | None:
    """The reason and header block of entry `qid` (never the body)."""
    with Session(app.engine) as session:
        q = session.get(Quarantine, qid)
        if q is None:
            return None
        head = q.raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        msg = BytesHeaderParser(policy=compat32).parsebytes(head)
        lines = [f"id: {q.id}", f"kind: {q.kind}", f"reason: {q.reason}",
                 f"size: {q.size} bytes", f"source: {q.source}", ""]
        lines += [f"{k}: {v}" for k, v in msg.items()]
        return "\n".join(lines)


class _StillQuarantined(Exception):
    """Rolls the retry's transaction back: the entry stays as it was."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def retry_quarantine(app: App, ids: list[int] | None) -> list[tuple[int, str]]:
    """Retry entries (see `iter_retry`) and return every answer."""
    return list(iter_retry(app, ids))


def iter_retry(app: App, ids: list[int] | None) -> Iterator[tuple[int, str]]:
    """Run entries through the pipeline again; filed ones are marked released.

    Each entry is released and filed in ONE transaction, so an interruption
    (Ctrl-C, SIGKILL, a database outage) leaves it either filed or still in
    quarantine under its own id, never neither.  A retry that fails again keeps
    the entry and its id and adds the new reason to it.  Oversize entries hold
    headers only, so they cannot be retried from here.
    """
    with Session(app.engine) as session:
        query = select(Quarantine.id, Quarantine.headers_only).where(
            Quarantine.released_at == None)  # noqa: E711
        if ids is not None:
            query = query.where(col(Quarantine.id).in_(ids))
        entries = list(session.exec(query.order_by(col(Quarantine.id))).all())
    for qid, headers_only in entries:
        assert qid is not None
        if headers_only:
            yield qid, "skipped: only headers were kept (fetch it from the server)"
            continue
        yield qid, _retry_one(app, qid)


def _retry_one(app: App, qid: int) -> str:
    """Release entry `qid` and file it, together or not at all; describe what happened."""
    try:
        with session_scope(app.engine) as session:
            row = session.get(Quarantine, qid)
            if row is None or row.released_at is not None:
                return "already released"
            # Released first, in the same transaction, so the pipeline's dedupe lets the
            # message through; a rollback puts the entry back exactly as it was.
            row.released_at = app.now_utc()
            session.add(row)
            session.flush()
            outcome = process_message(app, session, row.raw,
                                      Origin(source=f"quarantine-retry:{qid}", backfill=True))
            if outcome.status == Status.QUARANTINED:
                raise _StillQuarantined(outcome.reason or "quarantined again")
    except _StillQuarantined as exc:
        reason = exc.reason
    except Exception as exc:
        if database_outage(exc):
            raise
        reason = f"internal error while filing: {type(exc).__name__}: {str(exc)[:200]}"
    else:
        app.outbox_wakeup.set()
        if outcome.status == Status.FILED:
            return f"filed in case {outcome.case_code}"
        where = f" in case {outcome.case_code}" if outcome.case_code else ""
        return f"{outcome.status} (already filed{where})"
    _add_reason(app, qid, reason)
    return f"still quarantined: {reason}"


def _add_reason(app: App, qid: int, reason: str) -> None:
    """Keep entry `qid` as it is and note why the retry failed (at most a few notes)."""
    with session_scope(app.engine) as session:
        row = session.get(Quarantine, qid)
        if row is None:
            return
        note = f"retry at {app.now_utc().isoformat(timespec='seconds')}: {reason}"
        lines = row.reason.split("\n")
        # The first reason and the latest notes; an entry retried daily stays readable.
        row.reason = "\n".join([*lines[:1], *lines[1:][-4:], note])[:4000]
        session.add(row)
