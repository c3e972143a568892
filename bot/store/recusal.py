"""Who is shut out of a case: the one place that decides it.

A member is shut out of a case when they recused themselves from it, or when
they were excluded from it because the report concerns them (the manual,
"Conflicts of Interest": "that member must be excluded from the response
process"), and from every case while they have not yet answered the
onboarding question about conflicts of interest (`bot.records.onboarding`).
A report that names a member shuts them out at once, before any chair
confirms it with `#exclude` (`member_named` events); a confirmed exclusion is
an `excluded` event.  Commands, reminders, the digest, urgent notices, hygiene
warnings and the quorum all ask `shut_out` / `is_shut_out`, so the answer
cannot differ between them.  `excluded` / `is_excluded` tell the reasons apart
where the bot must say nothing at all (an excluded member gets no transcript,
not even a refusal).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session, col, select

from bot.core.config import Config, Member
from bot.core.events import EventKind
from bot.store.models import Case, Event, Participant
from bot.store.people import ConflictStatement

# Event kinds that shut the member in their data["member"] out of the case.
EXCLUDING_EVENTS = (EventKind.MEMBER_NAMED, EventKind.EXCLUDED)
EXCLUSION_KINDS = frozenset(k.value for k in (*EXCLUDING_EVENTS, EventKind.EXCLUSION_LIFTED))


def _case_ids(session: Session, case: Case) -> list[int]:
    """`case` and every case merged into it (an exclusion survives a merge)."""
    merged = session.exec(select(Case.id).where(Case.merged_into == case.id)).all()
    return [i for i in [case.id, *merged] if i is not None]


def recorded_recusals(session: Session, case: Case) -> list[str]:
    """The addresses recorded as recused on `case`, sorted (as the records show them)."""
    rows = session.exec(
        select(Participant.address).where(
            Participant.case_id == case.id, Participant.recused == True  # noqa: E712
        )
    ).all()
    return sorted(set(rows))


def recorded_exclusions(session: Session, case: Case) -> list[str]:
    """Main addresses of members excluded from `case` (named by a report or by #exclude).

    A `#readmit` (`exclusion_lifted`) ends every exclusion of that member before it.
    """
    rows = session.exec(
        select(Event.kind, Event.data).where(col(Event.case_id).in_(_case_ids(session, case)),
                                             col(Event.kind).in_(sorted(EXCLUSION_KINDS)))
        .order_by(col(Event.at), col(Event.id))
    ).all()
    return exclusions_from(rows)


def exclusions_from(rows: Iterable[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """The exclusions standing after `rows` ((kind, data) of a case's events, oldest first).

    Events of other kinds are ignored, so a case's whole history may be passed.
    """
    out: set[str] = set()
    for kind, data in rows:
        if kind not in EXCLUSION_KINDS:
            continue
        member = str(data.get("member") or "").lower()
        if not member:
            continue
        if kind == EventKind.EXCLUSION_LIFTED:
            out.discard(member)
        else:
            out.add(member)
    return sorted(out)


def _with_aliases(config: Config, addresses: list[str]) -> set[str]:
    out: set[str] = set()
    for addr in addresses:
        out.add(addr)
        member = config.member_for(addr)
        if member is not None:
            out.update(member.addresses)
    return out


def excluded(session: Session, config: Config, case: Case) -> set[str]:
    """Every address of every member excluded from `case`."""
    return _with_aliases(config, recorded_exclusions(session, case))


def is_excluded(session: Session, config: Config, case: Case, member: Member) -> bool:
    """True when `member` is excluded from `case` (the bot tells them nothing about it)."""
    return not excluded(session, config, case).isdisjoint(member.addresses)


def shut_out(session: Session, config: Config, case: Case) -> set[str]:
    """Every address of every member shut out of `case` (recused or excluded)."""
    return shut_out_from(config, recorded_recusals(session, case),
                         recorded_exclusions(session, case),
                         awaiting_conflict_statement(session, config))


def shut_out_from(config: Config, recusals: Iterable[str], exclusions: Iterable[str],
                  awaiting: set[str]) -> set[str]:
    """`shut_out` from rows already read (the clocks read many cases at once)."""
    out = _with_aliases(config, [*recusals, *exclusions])
    out.update(awaiting)
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


def members_in(session: Session, config: Config, case: Case) -> list[Member]:
    """The members not shut out of `case`, in roster order (who may decide on it)."""
    out = shut_out(session, config, case)
    return [m for m in config.members if out.isdisjoint(m.addresses)]
