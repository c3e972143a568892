"""The readmission clock: a short suspension's end date reminds the point of contact.

The ladder: "Temporary Suspension (Short-term) - 30-90 days with readmission
request required".  On the end date (in the configured time zone) the case's
point of contact (or, without one, the chairs not shut out of the case) is
reminded once; the reminder is recorded on the row in the same transaction,
so restarts and second instances never repeat it.  Due rows are found by the
indexed end date, not by scanning cases.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from bot.core.app import App
from bot.core.events import EventKind
from bot.outbound.outbox import queue_mail
from bot.records.ladder import needs_readmission_request
from bot.records.notices import chairs_for
from bot.store.db import session_scope
from bot.store.models import Case
from bot.store.people import CasePerson, Person
from bot.store.records import add_event
from bot.store.recusal import shut_out


def _recipients(session: Session, app: App, case: Case) -> list[str]:
    contact = app.config.member_for(case.point_of_contact)
    if contact is not None and shut_out(session, app.config, case).isdisjoint(contact.addresses):
        return [contact.email]
    return chairs_for(session, app, case)


def run_readmission(app: App) -> int:
    """Queue the reminders that are due now; returns how many were queued."""
    today = app.now().astimezone(app.config.schedule.zone).date()
    queued = 0
    with session_scope(app.engine) as session:
        rows = session.exec(
            select(CasePerson, Person, Case)
            .join(Person, col(Person.id) == CasePerson.person_id)
            .join(Case, col(Case.id) == CasePerson.case_id)
            .where(col(CasePerson.suspension_end).is_not(None),
                   col(CasePerson.suspension_end) <= today,
                   col(CasePerson.readmission_reminded_at).is_(None))
        ).all()
        for link, person, case in rows:
            assert link.suspension_start is not None and link.suspension_end is not None
            days = (link.suspension_end - link.suspension_start).days
            link.readmission_reminded_at = app.now_utc()
            session.add(link)
            if not needs_readmission_request(days):
                continue
            to = _recipients(session, app, case)
            if not to:
                continue
            queue_mail(session, app, kind="reminder", template="readmission_due", to=to,
                       case=case, context={"person_code": person.code,
                                           "start": link.suspension_start.isoformat(),
                                           "end": link.suspension_end.isoformat(),
                                           "days": days})
            add_event(session, case, EventKind.READMISSION_DUE, at=app.now_utc(),
                      person=person.code, to=to)
            queued += 1
    return queued
