"""One case in full (`cocbot case CODE`): record, messages and history."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from bot.store.copies import copies_of
from bot.store.models import Case, Event, InboundMessage
from bot.store.records import case_events, case_record, find_case


def _summary(ev: Event) -> str:
    parts = [f"{k}={v}" for k, v in sorted(ev.data.items()) if v not in (None, "", [], {})]
    return ", ".join(parts)


def _event(ev: Event) -> dict[str, Any]:
    return {"at": ev.at.isoformat(), "kind": ev.kind, "actor": ev.actor,
            "message_id": ev.message_id, "data": ev.data, "summary": _summary(ev)}


def case_messages(session: Session, case: Case) -> list[InboundMessage]:
    """The messages filed in `case` and in cases merged into it, in arrival order."""
    ids = [case.id, *session.exec(select(Case.id).where(Case.merged_into == case.id)).all()]
    return list(session.exec(
        select(InboundMessage).where(col(InboundMessage.case_id).in_(ids))
        .order_by(col(InboundMessage.received_at), col(InboundMessage.id))
    ).all())


def case_detail(session: Session, code: str) -> dict[str, Any] | None:
    """The record plus messages and event history of the case called `code`."""
    case = find_case(session, code)
    if case is None:
        return None
    detail = case_record(session, case)
    messages = case_messages(session, case)
    copies = copies_of(session, [m.id for m in messages if m.id is not None])
    detail["messages"] = [
        {"message_id": m.message_id, "kind": m.kind, "received_at": m.received_at.isoformat(),
         "date": m.date.isoformat() if m.date else None, "from": m.from_address,
         "subject": m.subject, "size": m.size,
         # Other copies of this very message (same Message-ID, other bytes): kept, not acted on.
         "alternate_copies": [
             {"id": c.id, "received_at": c.received_at.isoformat(), "size": c.size,
              "source": c.source, "sha256": c.raw_sha256}
             for c in copies.get(m.id or 0, [])]}
        for m in messages
    ]
    detail["events"] = [_event(ev) for ev in case_events(session, case)]
    return detail
