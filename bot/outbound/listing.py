"""The outbox as an operator sees it: rows, one mail's headers, and retrying failures.

Failed mail never disappears silently: it stays in the outbox with the reason
(and, for refused recipients, which ones) until someone retries it.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from typing import Any

from sqlmodel import Session, col, select

from bot.core.app import App
from bot.core.events import EventKind
from bot.store.db import session_scope
from bot.store.models import Case, Outbox
from bot.store.records import add_event


def outbox_rows(app: App, *, include_sent: bool = False) -> list[dict[str, Any]]:
    """Outbox rows as plain dicts, oldest first (sent rows only with `include_sent`)."""
    with Session(app.engine) as session:
        query = select(Outbox, Case.code).join(Case, isouter=True).order_by(col(Outbox.id))
        if not include_sent:
            query = query.where(Outbox.status != "sent")
        rows = session.exec(query).all()
        return [
            {
                "id": row.id,
                "message_id": row.message_id,
                "case": code,
                "kind": row.kind,
                "status": row.status,
                "attempts": row.attempts,
                "recipients": list(row.recipients),
                "refused": list(row.refused),
                "created_at": row.created_at.isoformat(),
                "next_attempt_at": row.next_attempt_at.isoformat(),
                "sent_at": row.sent_at.isoformat() if row.sent_at else None,
                "last_error": row.last_error,
            }
            for row, code in rows
        ]


def retry_rows(app: App, ids: list[int] | None) -> list[tuple[int, str]]:
    """Put failed rows (`ids`, or every failed row when None) back in the queue."""
    results: list[tuple[int, str]] = []
    now = app.now_utc()
    with session_scope(app.engine) as session:
        if ids is None:
            rows = list(session.exec(select(Outbox).where(Outbox.status == "failed")
                                     .order_by(col(Outbox.id))).all())
        else:
            rows = []
            for oid in ids:
                row = session.get(Outbox, oid)
                if row is None:
                    results.append((oid, "no such outbox entry"))
                else:
                    rows.append(row)
        for row in rows:
            assert row.id is not None
            if row.status != "failed":
                results.append((row.id, f"not failed (status {row.status}); left alone"))
                continue
            row.status = "queued"
            row.next_attempt_at = now
            session.add(row)
            case = session.get(Case, row.case_id) if row.case_id else None
            add_event(session, case, EventKind.OUTBOX_RETRY, message_id=row.message_id, at=now,
                      mail_kind=row.kind, previous_error=row.last_error)
            results.append((row.id, "queued again"))
    app.outbox_wakeup.set()
    return results


def outbox_headers(app: App, oid: int) -> str | None:
    """The header block of outbox row `oid` (decoded), or None when there is none."""
    with Session(app.engine) as session:
        row = session.get(Outbox, oid)
        if row is None:
            return None
        msg = message_from_bytes(row.raw, policy=policy.default)
        lines = [f"{name}: {value}" for name, value in msg.items()]
        lines.append("")
        lines.append(f"(outbox {row.id}: {row.kind}, {row.status}, {row.attempts} attempt(s))")
        if row.last_error:
            lines.append(f"last error: {row.last_error}")
        lines.extend(f"refused: {entry}" for entry in row.refused)
        return "\n".join(lines)
