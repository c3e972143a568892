"""The roster: members from the config, kept in the database with history.

A member who disappears from the config is not deleted: their row gets an
`active_until`, so the records can always say who was a member when.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, select

from bot.core.app import App
from bot.core.config import Config
from bot.core.events import EventKind
from bot.store.models import Member, utcnow
from bot.store.records import add_event


def sync_roster(session: Session, config: Config) -> None:
    """Make the active roster in the database match the config."""
    active = {m.email: m for m in session.exec(
        select(Member).where(Member.active_until == None)  # noqa: E711
    ).all()}
    wanted = {m.email: m for m in config.members}
    now = utcnow()
    for email, row in active.items():
        cfg = wanted.get(email)
        if cfg is None:
            row.active_until = now
            session.add(row)
            add_event(session, None, EventKind.MEMBER_LEFT, actor=email)
        elif (row.name, row.role, row.aliases) != (cfg.name, cfg.role, list(cfg.aliases)):
            # Close the old row and open a new one, so a role change has a date too.
            row.active_until = now
            session.add(row)
            session.add(Member(name=cfg.name, email=email, aliases=list(cfg.aliases),
                               role=cfg.role, active_from=now))
            add_event(session, None, EventKind.MEMBER_CHANGED, actor=email, role=cfg.role)
    for email, cfg in wanted.items():
        if email not in active:
            session.add(Member(name=cfg.name, email=email, aliases=list(cfg.aliases),
                               role=cfg.role, active_from=now))
            add_event(session, None, EventKind.MEMBER_JOINED, actor=email, role=cfg.role)
    session.flush()


def member_history(session: Session) -> list[Member]:
    """Every roster row, oldest first."""
    return list(session.exec(select(Member).order_by(Member.active_from)).all())  # type: ignore[arg-type]


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive values; everything is stored as UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _window(at: str) -> tuple[datetime, datetime]:
    """The moment (or whole UTC day) that `at` names, as [start, end)."""
    if len(at) == 10:
        day = date.fromisoformat(at)
        start = datetime.combine(day, time(0, 0), tzinfo=UTC)
        return start, start + timedelta(days=1)
    moment = datetime.fromisoformat(at)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment, moment + timedelta(microseconds=1)


def was_member(row: Member, start: datetime, end: datetime) -> bool:
    """True when `row` was active at some point in [start, end)."""
    until = _aware(row.active_until) if row.active_until else None
    return _aware(row.active_from) < end and (until is None or until > start)


def roster_rows(app: App, at: str | None = None) -> list[dict[str, Any]]:
    """Every roster row (oldest first) as a dict; with `at`, only those active then."""
    with Session(app.engine) as session:
        rows = member_history(session)
    if at is not None:
        start, end = _window(at)
        rows = [r for r in rows if was_member(r, start, end)]
    return [
        {"name": r.name, "email": r.email, "aliases": list(r.aliases), "role": r.role,
         "active_from": _aware(r.active_from).isoformat(),
         "active_until": _aware(r.active_until).isoformat() if r.active_until else None,
         "current": r.active_until is None}
        for r in rows
    ]
