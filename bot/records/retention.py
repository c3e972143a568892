"""Retention: personal data "retained only as long as necessary" (Privacy Policy Commitments).

`purge` removes, for each case resolved before a date, everything that can
identify anyone: the raw mail and message texts, the bot's own mail, the
message ids, the participants (reporter and everyone written to), the
reporter's name and address on the case row, the case's history entries
(which hold addresses and message ids), and the identities of reported people
with no other case still holding details.  It keeps the anonymised record row
(the spreadsheet's columns), the person code names and their per-person
outcomes, and the statistics fields (space, types, response times), so the
published figures do not change.  The purge itself is recorded as an event.

Deleted means gone from disk.  SQLite connections run with ``secure_delete``
(freed pages are zeroed); after the purge the WAL is checkpointed and
truncated and the file is rebuilt with ``VACUUM``.  PostgreSQL tables touched
are rewritten with ``VACUUM FULL``, which leaves no dead tuples behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, delete, or_, text
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from bot.core.app import App
from bot.core.events import EventKind
from bot.core.log import get_logger
from bot.outbound.outbox import queue_mail
from bot.records.notices import chairs_for
from bot.records.stats import response_times
from bot.store.db import session_scope
from bot.store.models import Case, CaseMessage, Event, InboundMessage, Outbox, Participant
from bot.store.people import CaseExtra, CasePerson, Person, PersonIndex
from bot.store.records import add_event

log = get_logger("retention")
# Tables a purge deletes from (PostgreSQL rewrites them with VACUUM FULL).
PURGED_TABLES = ("inboundmessage", "casemessage", "outbox", "participant", "event", "case",
                 "person", "personindex", "caseextra")


@dataclass
class PurgeResult:
    """What a purge did (or, dry, would do)."""

    cases: list[str] = field(default_factory=list)
    messages: int = 0
    outbox: int = 0
    identities: int = 0
    compacted: str = ""


def due_cases(session: Session, before: date) -> list[Case]:
    """Resolved cases with a resolution date before `before`, not yet purged."""
    purged = set(session.exec(select(CaseExtra.case_id).where(
        col(CaseExtra.purged_at).is_not(None))).all())
    rows = session.exec(select(Case).where(
        Case.status == "Resolved", col(Case.resolution_date).is_not(None),
        col(Case.resolution_date) < before, Case.merged_into == None)  # noqa: E711
        .order_by(col(Case.resolution_date), col(Case.id))).all()
    return [c for c in rows if c.id not in purged]


def _family(session: Session, case: Case) -> list[int]:
    ids = [case.id or 0]
    ids.extend(i for i in session.exec(select(Case.id).where(Case.merged_into == case.id)).all()
               if i is not None)
    return ids


def purge_case(session: Session, app: App, case: Case) -> dict[str, int]:
    """Purge one case's details (see the module docstring); the caller commits."""
    ids = _family(session, case)
    extra = session.get(CaseExtra, case.id)
    if extra is None:
        extra = CaseExtra(case_id=case.id or 0)
    # Keep what the statistics read from the mail before the mail goes.
    acked, first = response_times(session, app.config, [case]).get(case.id or 0, (None, None))
    extra.acknowledged_at, extra.first_response_at = acked, first
    extra.purged_at = app.now_utc()
    session.add(extra)
    counts: dict[str, Any] = {}
    # Message-id links first: they point at the stored messages.
    for model, column in ((CaseMessage, CaseMessage.case_id),
                          (InboundMessage, InboundMessage.case_id), (Outbox, Outbox.case_id),
                          (Participant, Participant.case_id)):
        result = session.exec(delete(model).where(col(column).in_(ids)))  # type: ignore[call-overload]
        counts[model.__name__] = result.rowcount
    # The history holds addresses and message ids: the purge is the one exception
    # to "append-only" (a Core delete; the ORM guard refuses it by design).
    session.exec(delete(Event).where(col(Event.case_id).in_(ids)))  # type: ignore[call-overload]
    for cid in ids:
        row = session.get(Case, cid)
        if row is not None:
            row.reporter_address = None
            row.reporter_name = None
            session.add(row)
    counts["identities"] = _forget_people(session, ids)
    session.flush()
    add_event(session, case, EventKind.PURGED, at=app.now_utc(),
              messages=counts["InboundMessage"], outbox=counts["Outbox"],
              identities=counts["identities"])
    return counts


def _forget_people(session: Session, ids: list[int]) -> int:
    """Drop identities of the case's people who have no unpurged case left; returns how many."""
    people = set(session.exec(select(CasePerson.person_id).where(
        col(CasePerson.case_id).in_(ids))).all())
    forgotten = 0
    for person_id in people:
        others = session.exec(
            select(CasePerson.case_id).where(CasePerson.person_id == person_id,
                                             col(CasePerson.case_id).not_in(ids))).all()
        purged = set(session.exec(select(CaseExtra.case_id).where(
            col(CaseExtra.case_id).in_(others), col(CaseExtra.purged_at).is_not(None))).all()) \
            if others else set()
        if any(o not in purged for o in others):
            continue
        person = session.get(Person, person_id)
        if person is not None and person.identity is not None:
            person.identity = None
            session.add(person)
            forgotten += 1
        session.exec(delete(PersonIndex).where(  # type: ignore[call-overload]
            col(PersonIndex.person_id) == person_id))
    return forgotten


def compact(engine: Engine) -> str:
    """Make deleted data gone from disk; returns what was done, for the operator."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            # VACUUM cannot run inside a transaction: the driver's autocommit.
            old = raw.isolation_level  # type: ignore[attr-defined]
            raw.isolation_level = None  # type: ignore[attr-defined]
            try:
                raw.execute("VACUUM")
            finally:
                raw.isolation_level = old  # type: ignore[attr-defined]
            busy = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy and busy[0]:
            return ("VACUUM done, but another connection kept the WAL busy: stop the bot "
                    "and run the purge again to truncate it")
        return "VACUUM done, WAL checkpointed and truncated"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in PURGED_TABLES:
            conn.execute(text(f'VACUUM FULL "{table}"'))
    return f"VACUUM FULL of {len(PURGED_TABLES)} tables done"


def purge(app: App, before: date, *, dry_run: bool = False) -> PurgeResult:
    """Purge every case resolved before `before` (one transaction), then compact."""
    result = PurgeResult()
    with session_scope(app.engine) as session:
        cases = due_cases(session, before)
        result.cases = [c.code for c in cases]
        if dry_run:
            ids = [i for c in cases for i in _family(session, c)]
            if ids:
                result.messages = len(session.exec(select(InboundMessage.id).where(
                    col(InboundMessage.case_id).in_(ids))).all())
                result.outbox = len(session.exec(select(Outbox.id).where(
                    col(Outbox.case_id).in_(ids))).all())
            session.rollback()
            return result
        for case in cases:
            counts = purge_case(session, app, case)
            result.messages += counts["InboundMessage"]
            result.outbox += counts["Outbox"]
            result.identities += counts["identities"]
            log.info("case purged", case=case.code)
    if result.cases:
        result.compacted = compact(app.engine)
    return result


def run_retention(app: App) -> int:
    """Remind the chairs once per case when resolved cases pass `retention.years`."""
    years = app.config.retention.years
    if not years:
        return 0
    today = app.now().astimezone(app.config.schedule.zone).date()
    cutoff = today - timedelta(days=round(365.25 * years))
    with session_scope(app.engine) as session:
        # Indexed and filtered in SQL: a tick over thousands of old cases stays cheap.
        handled = sa_select(col(CaseExtra.case_id)).where(
            or_(col(CaseExtra.purged_at).is_not(None),
                col(CaseExtra.retention_reminded_at).is_not(None)))
        due = session.execute(sa_select(col(Case.id), col(Case.code)).where(
            col(Case.status) == "Resolved", col(Case.resolution_date).is_not(None),
            col(Case.resolution_date) < cutoff, col(Case.merged_into).is_(None),
            col(Case.id).not_in(handled))).all()
        fresh = []
        for case_id, code in due:
            extra = session.get(CaseExtra, case_id) or CaseExtra(case_id=case_id)
            extra.retention_reminded_at = app.now_utc()
            session.add(extra)
            fresh.append(code)
        if not fresh:
            return 0
        to = chairs_for(session, app, None)
        if not to:
            return 0
        queue_mail(session, app, kind="reminder", template="retention_due", to=to,
                   context={"codes": fresh, "cutoff": cutoff.isoformat(), "years": years})
        add_event(session, None, EventKind.RETENTION_DUE, at=app.now_utc(), cases=len(fresh))
    return 1
