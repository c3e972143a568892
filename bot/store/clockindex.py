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

from sqlalchemy import and_, or_
from sqlalchemy import event as sa_event
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection
from sqlmodel import Field, Session, SQLModel

from bot.store.models import Case, Event


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


def to_look_at(session: Session, now: datetime, config_key: str) -> list[int]:
    """Live case ids without a valid stored time, or whose time is `now` or past, by id."""
    clock = CaseClock.__table__  # type: ignore[attr-defined]
    case = Case.__table__  # type: ignore[attr-defined]
    valid = and_(clock.c.case_id == case.c.id, clock.c.config_key == config_key)
    rows = session.execute(
        sa_select(case.c.id).select_from(case.outerjoin(clock, valid))
        .where(case.c.merged_into.is_(None),
               or_(clock.c.case_id.is_(None), clock.c.next_check_at <= now))
        .order_by(case.c.id)).all()
    return [cid for (cid,) in rows]


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
