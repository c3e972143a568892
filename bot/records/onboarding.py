"""Onboarding and leaving (manual, "Member Access").

"When onboarding new working group members, they should be provided with a
list of code names for all existing reports.  The new member should state
whether they have any conflicts of interest ...  If no conflict exists, they
will be given access to those report documents."

So: a member who joins the roster after it was first set up is mailed the
case code names within retention (code names only) and asked to answer with
``#conflict CODE...`` or ``#noconflict``.  Until they answer they are shut out
of every case (`bot.store.recusal.shut_out` reads the pending statement), so
no digest line, reminder or command answer tells them anything about a case;
their digest says "awaiting your conflict statement".  Each declared conflict
becomes a recusal, recorded exactly as ``#recuse`` records one.

A member who leaves the roster is no longer in the configuration, so nothing
is sent to them any more; `cocbot members` shows since when.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from bot.core.app import App
from bot.core.config import Config, Member
from bot.core.events import EventKind
from bot.core.log import get_logger
from bot.outbound.outbox import queue_mail, valid_address
from bot.store.db import session_scope
from bot.store.models import Case
from bot.store.models import Member as RosterRow
from bot.store.people import CaseExtra, ConflictStatement
from bot.store.records import add_event, ensure_participant, find_case
from bot.store.recusal import forget_awaiting, shut_out

log = get_logger("onboarding")
AWAITING_TEXT = "awaiting your conflict statement"


def awaiting_statement(session: Session, email: str) -> bool:
    """True when `email` was asked for a conflict statement and has not answered."""
    row = session.exec(select(ConflictStatement).where(
        ConflictStatement.email == email.lower())).first()
    return row is not None and row.answered_at is None


def cases_within_retention(session: Session, app: App) -> list[Case]:
    """Live, unpurged cases that are ongoing or resolved within `retention.years`."""
    purged = set(session.exec(select(CaseExtra.case_id).where(
        col(CaseExtra.purged_at).is_not(None))).all())
    cases = session.exec(select(Case).where(Case.merged_into == None)  # noqa: E711
                         .order_by(col(Case.date_reported), col(Case.id))).all()
    years = app.config.retention.years
    today = app.now().astimezone(app.config.schedule.zone).date()
    cutoff = today - timedelta(days=round(365.25 * years)) if years else None
    return [c for c in cases if c.id not in purged and (
        cutoff is None or c.resolution_date is None or c.resolution_date >= cutoff)]


def visible_cases(session: Session, config: Config, member: Member) -> list[Case]:
    """Live cases `member` is not shut out of, oldest report first."""
    cases = session.exec(select(Case).where(Case.merged_into == None)  # noqa: E711
                         .order_by(col(Case.date_reported), col(Case.id))).all()
    return [c for c in cases if shut_out(session, config, c).isdisjoint(member.addresses)]


def newcomers(session: Session, config: Config) -> list[Member]:
    """Configured members who joined after the roster was first set up, not yet asked."""
    first = session.exec(select(func.min(RosterRow.active_from))).one()
    if first is None:
        return []
    asked = set(session.exec(select(ConflictStatement.email)).all())
    out = []
    for member in config.members:
        joined = session.exec(select(func.min(RosterRow.active_from)).where(
            RosterRow.email == member.email)).one()
        if joined is not None and joined > first and member.email not in asked:
            out.append(member)
    return out


def run_onboarding(app: App) -> int:
    """Mail each newcomer the code-name list and the question; returns mails queued."""
    queued = 0
    with session_scope(app.engine) as session:
        for member in newcomers(session, app.config):
            codes = [c.code for c in cases_within_retention(session, app)]
            session.add(ConflictStatement(email=member.email, asked_at=app.now_utc(),
                                          conflicts=[]))
            session.flush()
            forget_awaiting(session)
            if valid_address(member.email):
                queue_mail(session, app, kind="onboarding", template="onboarding",
                           to=[member.email],
                           context={"member_name": member.name, "codes": codes})
                queued += 1
            add_event(session, None, EventKind.ONBOARDING_SENT, actor=member.email,
                      at=app.now_utc(), cases=len(codes))
            log.info("onboarding mail queued", cases=len(codes))
    return queued


def record_statement(session: Session, app: App, member: Member, codes: list[str],
                     *, message_id: str | None) -> dict[str, Any]:
    """Record `member`'s conflict statement: recusals for `codes` (empty: no conflict).

    Returns {"recused": [codes], "unknown": [texts]}; with any unknown code name
    nothing is recorded, so a typo never leaves a conflict undeclared.
    """
    found: list[Case] = []
    unknown: list[str] = []
    for text in codes:
        case = find_case(session, text)
        if case is None:
            unknown.append(text)
        elif case not in found:
            found.append(case)
    if unknown:
        return {"recused": [], "unknown": unknown, "recorded": False}
    for case in found:
        row = ensure_participant(session, case, member.email, member.name, "member")
        if not row.recused:
            row.recused = True
            session.add(row)
            add_event(session, case, EventKind.RECUSED, actor=member.email,
                      message_id=message_id, at=app.now_utc(), member=member.email,
                      how="conflict statement")
    statement = session.exec(select(ConflictStatement).where(
        ConflictStatement.email == member.email)).first()
    if statement is None:
        statement = ConflictStatement(email=member.email, asked_at=app.now_utc(), conflicts=[])
    statement.answered_at = app.now_utc()
    statement.conflicts = sorted({*statement.conflicts, *(c.code for c in found)})
    session.add(statement)
    session.flush()
    forget_awaiting(session)
    add_event(session, None, EventKind.CONFLICT_STATEMENT, actor=member.email,
              message_id=message_id, at=app.now_utc(), conflicts=len(found))
    session.flush()
    return {"recused": [c.code for c in found], "unknown": [], "recorded": True}


def parse_codes(text: str) -> list[str]:
    """Case code names in `text`: "home shelf, stunned-bulb; [CoC a-b]" -> three names."""
    import re

    out: list[str] = []
    for part in re.split(r"[,;\n]+", text):
        words = re.sub(r"[\[\]]|(?i:\bcoc\b)", " ", part).replace("-", " ").lower().split()
        if len(words) > 2 and len(words) % 2 == 0:
            # "home shelf stunned bulb": two code names of two words each.
            out.extend(f"{words[i]} {words[i + 1]}" for i in range(0, len(words), 2))
        elif words:
            out.append(" ".join(words))
    return out
