"""The roster: members from the config, kept in the database with history.

A member who disappears from the config is not deleted: their row gets an
`active_until`, so the records can always say who was a member when.
"""

from __future__ import annotations

from sqlmodel import Session, select

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
