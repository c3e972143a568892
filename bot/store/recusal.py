"""Who is shut out of a case: the one place that decides it.

A member is shut out of a case when they recused themselves from it (and,
as the governance rules grow, when they were excluded from it), and from
every case while they have not yet answered the onboarding question about
conflicts of interest (`bot.records.onboarding`).  Commands,
reminders, the digest and the hygiene warnings all ask `shut_out` /
`is_shut_out`, so the answer cannot differ between them.
"""

from __future__ import annotations

from sqlmodel import Session, select

from bot.core.config import Config, Member
from bot.store.models import Case, Participant
from bot.store.people import ConflictStatement


def recorded_recusals(session: Session, case: Case) -> list[str]:
    """The addresses recorded as recused on `case`, sorted (as the records show them)."""
    rows = session.exec(
        select(Participant.address).where(
            Participant.case_id == case.id, Participant.recused == True  # noqa: E712
        )
    ).all()
    return sorted(set(rows))


def shut_out(session: Session, config: Config, case: Case) -> set[str]:
    """Every address of every member shut out of `case` (main emails included)."""
    out: set[str] = set()
    for addr in recorded_recusals(session, case):
        out.add(addr)
        member = config.member_for(addr)
        if member is not None:
            out.update(member.addresses)
    out.update(awaiting_conflict_statement(session, config))
    return out


AWAITING_CACHE = "cocbot.awaiting_conflict_statement"


def awaiting_conflict_statement(session: Session, config: Config) -> set[str]:
    """Every address of members asked about conflicts who have not answered yet.

    Read once per transaction (the digest and the clocks ask for every case);
    whoever records a statement drops the cached answer (`forget_awaiting`).
    """
    pending = session.info.get(AWAITING_CACHE)
    if pending is None:
        pending = list(session.exec(select(ConflictStatement.email).where(
            ConflictStatement.answered_at == None)).all())  # noqa: E711
        session.info[AWAITING_CACHE] = pending
    out: set[str] = set()
    for email in pending:
        member = config.member_for(email)
        out.update(member.addresses if member is not None else [email])
    return out


def forget_awaiting(session: Session) -> None:
    """Drop the cached pending statements (after one was asked for or answered)."""
    session.info.pop(AWAITING_CACHE, None)


def is_shut_out(session: Session, config: Config, case: Case, member: Member) -> bool:
    """True when `member` (under any of their addresses) is shut out of `case`."""
    return not shut_out(session, config, case).isdisjoint(member.addresses)
