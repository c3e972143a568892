"""Indexed due-times for the reminder clocks: which cases a scheduler tick must look at.

Evaluating a case's clocks means reading its messages, outbox and history
(`bot.clocks.casefacts`), which is far too slow to do for every case every
minute.  After evaluating a case, the scheduler stores here the earliest
moment anything on it can become due (`next_check_at`; NULL: nothing open).
Any new event on the case (every state change, filed message, queued or sent
mail is one) deletes the row, so a changed case is looked at again on the
next tick; a missing row always means "look".  The row also carries a key of
the configuration the time was computed under, so a changed schedule or roster
invalidates every row at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection
from sqlmodel import Field, Session, SQLModel, select

from bot.store.models import Event


class CaseClock(SQLModel, table=True):
    """When the case's clocks next need a look (absent row: look now)."""

    case_id: int = Field(foreign_key="case.id", primary_key=True)
    next_check_at: datetime | None = Field(default=None, index=True)
    config_key: str = Field(default="", max_length=64)


@sa_event.listens_for(Event, "after_insert")
def _case_changed(_mapper: Any, connection: Connection, target: Event) -> None:
    # Same transaction as the event: the case is re-read on the next tick.
    if target.case_id is not None:
        connection.execute(CaseClock.__table__.delete().where(  # type: ignore[attr-defined]
            CaseClock.__table__.c.case_id == target.case_id))  # type: ignore[attr-defined]


def not_due(session: Session, now: datetime, config_key: str) -> set[int]:
    """Case ids whose clocks need no look at `now` (valid rows, nothing due yet)."""
    rows = session.exec(select(CaseClock.case_id, CaseClock.next_check_at).where(
        CaseClock.config_key == config_key)).all()
    return {cid for cid, at in rows if at is None or _aware(at) > now}


def remember(session: Session, case_id: int, next_check_at: datetime | None,
             config_key: str) -> None:
    """Store when `case_id` next needs a look (None: only when it changes)."""
    row = session.get(CaseClock, case_id)
    if row is None:
        row = CaseClock(case_id=case_id)
    row.next_check_at = next_check_at
    row.config_key = config_key
    session.add(row)


def forget_all(session: Session) -> None:
    """Drop every stored time (e.g. after a bulk change outside the ORM)."""
    session.exec(CaseClock.__table__.delete())  # type: ignore[attr-defined,call-overload]


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)



