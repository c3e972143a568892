"""The group's records: cases, participants, the event history, merges.

Every state change goes through here so that it is always paired with an
event in the case history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.core.events import EventKind
from bot.core.gcpause import collector_paused
from bot.store import clockindex  # noqa: F401  (its listener re-arms a case's clocks per event)
from bot.store.codenames import new_code_name
from bot.store.models import Case, CaseMessage, Event, InboundMessage, Participant, utcnow
from bot.store.recusal import recorded_exclusions, recorded_recusals

STATUS_ONGOING = "Ongoing"
STATUS_RESOLVED = "Resolved"
RESOLUTION_SOURCES = ("CoC WG", "DSF Board", "Local Event Reps", "None")


def add_event(
    session: Session,
    case: Case | None,
    kind: EventKind,
    *,
    actor: str | None = None,
    message_id: str | None = None,
    at: datetime | None = None,
    **data: Any,
) -> Event:
    """Append one event to `case`'s history (or the global history when None)."""
    ev = Event(
        case_id=case.id if case else None,
        kind=kind,
        actor=actor,
        message_id=message_id,
        at=at or utcnow(),
        data=data,
    )
    session.add(ev)
    return ev


def code_taken(session: Session, code: str) -> bool:
    """True when a case already uses `code`."""
    return session.exec(select(Case.id).where(Case.code == code)).first() is not None


def open_case(
    session: Session,
    *,
    date_reported: datetime,
    reporter_address: str | None,
    reporter_name: str | None,
    message_id: str | None,
    how: str,
) -> Case:
    """Create a new case with a fresh random code name, status Ongoing."""
    code = new_code_name(lambda c: code_taken(session, c))
    case = Case(
        code=code,
        status=STATUS_ONGOING,
        date_reported=date_reported,
        reporter_address=reporter_address,
        reporter_name=reporter_name or None,
    )
    session.add(case)
    session.flush()
    add_event(session, case, EventKind.CASE_OPENED, message_id=message_id, how=how,
              status=STATUS_ONGOING, date_reported=date_reported.isoformat())
    if reporter_address:
        ensure_participant(session, case, reporter_address, reporter_name or "", "reporter")
    return case


def ensure_participant(
    session: Session, case: Case, address: str, name: str, role: str
) -> Participant:
    """The participant row for `address` in `case`, created when missing."""
    key = address.strip().lower()
    row = session.exec(
        select(Participant).where(Participant.case_id == case.id, Participant.address == key)
    ).first()
    if row is None:
        row = Participant(case_id=case.id or 0, address=key, name=name, role=role)
        session.add(row)
        session.flush()
    elif name and not row.name:
        row.name = name
        session.add(row)
    return row


def is_participant(session: Session, case: Case, address: str | None) -> bool:
    """True when `address` has written or been written to in `case`."""
    if not address:
        return False
    key = address.strip().lower()
    return (
        session.exec(
            select(Participant.id).where(
                Participant.case_id == case.id, Participant.address == key
            )
        ).first()
        is not None
    )


def live_case(session: Session, case_id: int) -> Case | None:
    """The case with `case_id`, following merges to the surviving case."""
    case = session.get(Case, case_id)
    hops = 0
    while case is not None and case.merged_into is not None and hops < 50:
        case = session.get(Case, case.merged_into)
        hops += 1
    return case


def merge_cases(session: Session, keep: Case, drop: Case, *, message_id: str | None) -> None:
    """Fold `drop` into `keep` (one message tied them together); history stays."""
    if keep.id == drop.id:
        return
    for cm in session.exec(select(CaseMessage).where(CaseMessage.case_id == drop.id)).all():
        cm.case_id = keep.id or 0
        session.add(cm)
    for im in session.exec(select(InboundMessage).where(InboundMessage.case_id == drop.id)).all():
        im.case_id = keep.id
        session.add(im)
    for p in session.exec(select(Participant).where(Participant.case_id == drop.id)).all():
        kept = session.exec(select(Participant).where(
            Participant.case_id == keep.id, Participant.address == p.address)).first()
        if kept is not None:
            # One row per person: a recusal, or being a reporter, must survive the merge
            # (a recused member stays out of everything the merged case now holds).
            kept.recused = kept.recused or p.recused
            if p.role == "reporter":
                kept.role = "reporter"
            session.add(kept)
            session.delete(p)
        else:
            p.case_id = keep.id or 0
            session.add(p)
    if drop.date_reported < keep.date_reported:
        keep.date_reported = drop.date_reported
    drop.merged_into = keep.id
    session.add_all([keep, drop])
    add_event(session, keep, EventKind.CASE_MERGED, message_id=message_id, merged=drop.code)
    add_event(session, drop, EventKind.MERGED_INTO, message_id=message_id, into=keep.code)
    session.flush()


def case_message_ids(session: Session, case: Case) -> list[str]:
    """Every Message-ID filed in `case` (seen messages, oldest first)."""
    rows = session.exec(
        select(CaseMessage.message_id)
        .where(CaseMessage.case_id == case.id, CaseMessage.seen == True)  # noqa: E712
        .order_by(col(CaseMessage.id))
    ).all()
    return list(rows)


def case_events(session: Session, case: Case) -> list[Event]:
    """The history of `case`, including the history of cases merged into it."""
    ids = [case.id]
    merged = session.exec(select(Case.id).where(Case.merged_into == case.id)).all()
    ids.extend(merged)
    return list(
        session.exec(
            select(Event).where(col(Event.case_id).in_(ids)).order_by(col(Event.at), col(Event.id))
        ).all()
    )


def case_record(session: Session, case: Case) -> dict[str, Any]:
    """The record row of `case` as a JSON-ready dict (the `cases --json` shape)."""
    return {
        **case_record_fields(case),
        "message_ids": case_message_ids(session, case),
        "recused": recorded_recusals(session, case),
        # Members the case's report concerns (named by it, or #exclude): shut out.
        "excluded": recorded_exclusions(session, case),
    }


def list_cases(session: Session) -> list[Case]:
    """All live (not merged-away) cases, oldest report first."""
    return list(
        session.exec(
            select(Case)
            .where(Case.merged_into == None)  # noqa: E711
            .order_by(col(Case.date_reported), col(Case.id))
        ).all()
    )


def find_case(session: Session, code: str) -> Case | None:
    """The case called `code` ("home shelf" or "home-shelf"), following merges."""
    code = code.strip().lower().replace("-", " ")
    case = session.exec(select(Case).where(Case.code == code)).first()
    if case is None or case.id is None:
        return None
    return live_case(session, case.id)


def case_records(session: Session, cases: list[Case]) -> list[dict[str, Any]]:
    """`case_record` for many cases at once: two queries in all instead of two per case."""
    with collector_paused():  # many rows at once (bot.core.gcpause)
        return _case_records(session, cases)


def _case_records(session: Session, cases: list[Case]) -> list[dict[str, Any]]:
    ids = {c.id for c in cases}
    message_ids: dict[int, list[str]] = {i: [] for i in ids if i is not None}
    for case_id, mid in session.exec(
            select(CaseMessage.case_id, CaseMessage.message_id)
            .where(CaseMessage.seen == True)  # noqa: E712
            .order_by(col(CaseMessage.id))).all():
        if case_id in message_ids:
            message_ids[case_id].append(mid)
    recused: dict[int, set[str]] = {i: set() for i in message_ids}
    for case_id, address in session.exec(
            select(Participant.case_id, Participant.address)
            .where(Participant.recused == True)).all():  # noqa: E712
        if case_id in recused:
            recused[case_id].add(address)
    out = []
    for case in cases:
        record = case_record_fields(case)
        record["message_ids"] = message_ids.get(case.id or 0, [])
        record["recused"] = sorted(recused.get(case.id or 0, set()))
        out.append(record)
    return out


def case_record_fields(case: Case) -> dict[str, Any]:
    """The record fields of `case` that need no other table (the `cases --json` shape)."""
    return {
        "code": case.code,
        "status": case.status,
        "date_reported": case.date_reported.isoformat(),
        "resolution_source": case.resolution_source,
        "resolution_date": case.resolution_date.isoformat() if case.resolution_date else None,
        "safety_risk": case.safety_risk,
        "ongoing_harassment": case.ongoing_harassment,
        "consequences": case.consequences,
        "point_of_contact": case.point_of_contact,
        "review_date": case.review_date.isoformat() if case.review_date else None,
    }
