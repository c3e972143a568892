"""Operator view of the quarantine: list, show, retry."""

from __future__ import annotations

from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from sqlmodel import Session, col, select

from bot.core.app import App
from bot.filing.context import Origin
from bot.intake.filer import file_raw
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


def retry_quarantine(app: App, ids: list[int] | None) -> list[tuple[int, str]]:
    """Run entries through the pipeline again; filed ones are marked released.

    Oversize entries hold headers only, so they cannot be retried from here.
    """
    results: list[tuple[int, str]] = []
    with Session(app.engine) as session:
        query = select(Quarantine).where(Quarantine.released_at == None)  # noqa: E711
        if ids is not None:
            query = query.where(col(Quarantine.id).in_(ids))
        entries = list(session.exec(query.order_by(col(Quarantine.id))).all())
    for q in entries:
        assert q.id is not None
        if q.headers_only:
            results.append((q.id, "skipped: only headers were kept (fetch it from the server)"))
            continue
        with session_scope(app.engine) as session:
            row = session.get(Quarantine, q.id)
            assert row is not None
            # Take it out of the way so the pipeline's dedupe does not stop it.
            session.delete(row)
        outcome = file_raw(app, q.raw, Origin(source=f"quarantine-retry:{q.id}", backfill=True))
        if outcome.status == "quarantined":
            results.append((q.id, f"still quarantined: {outcome.reason}"))
        else:
            results.append((q.id, f"{outcome.status} in case {outcome.case_code}"))
    return results
