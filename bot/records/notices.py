"""Mail from the records to the chairs: repeat-person notices, code names only."""

from __future__ import annotations

from sqlmodel import Session

from bot.core.app import App
from bot.core.events import EventKind
from bot.outbound.outbox import queue_mail, valid_address
from bot.store.models import Case
from bot.store.records import add_event
from bot.store.recusal import shut_out


def chairs_for(session: Session, app: App, case: Case | None) -> list[str]:
    """The chairs not shut out of `case` (with no chair left: the members who are not)."""
    out = shut_out(session, app.config, case) if case is not None else set()
    chairs = [m.email for m in app.config.chairs if out.isdisjoint(m.addresses)]
    if not chairs:
        chairs = [m.email for m in app.config.members if out.isdisjoint(m.addresses)][:1]
    return [a for a in chairs if valid_address(a)]


def repeat_person_notice(session: Session, app: App, case: Case, summary: str,
                         person_code: str, actor: str | None) -> bool:
    """Tell the chairs (not those shut out of `case`) that a person has earlier records."""
    to = chairs_for(session, app, case)
    if not to:
        return False
    queue_mail(session, app, kind="repeat_person", template="repeat_person", to=to, case=case,
               context={"summary": summary, "person_code": person_code})
    add_event(session, case, EventKind.REPEAT_PERSON_NOTICE, actor=actor, at=app.now_utc(),
              person=person_code, to=to)
    return True
