"""Helpers for clock tests (reminders, digest): file mail at a chosen moment, read results."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from sqlmodel import Session, col, select

from bot.core.app import App
from bot.store.codenames import subject_tag
from bot.store.db import session_scope
from bot.store.models import Case, Event, Outbox, Participant
from bot.store.records import find_case
from tests.helpers import CONDUCT, REPORTER, file, make_mail

# Monday 2 November 2026, 10:00 UTC, and friends.
MON = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def moment(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A moment in November 2026 (UTC); day 2 is a Monday, 8 a Sunday."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def set_clock(app: App, when: datetime) -> None:
    """Freeze `app`'s clock at `when`."""
    app.clock = lambda: when


def file_mail(app: App, raw: bytes, when: datetime, *, backfill: bool = False) -> str | None:
    """File `raw` as if it arrived at `when`; returns the case code."""
    set_clock(app, when)
    return file(app, raw, backfill=backfill).case_code


def report(app: App, when: datetime, mid: str, *, sender: str = REPORTER,
           body: str = "Someone was rude to me in the forum thread yesterday.",
           subject: str = "Report about behaviour in the forum",
           backfill: bool = False) -> str:
    """File a new report at `when`; returns its case code."""
    code = file_mail(app, make_mail(sender=sender, message_id=mid, body=body, subject=subject,
                                    date=when), when, backfill=backfill)
    assert code is not None
    return code


def reply(app: App, when: datetime, sender: str, code: str, parent: str, mid: str, *,
          to: tuple[str, ...] = (CONDUCT,), cc: tuple[str, ...] = (), tags: str = "",
          body: str = "Thanks, looking into it.") -> None:
    """File a reply by `sender` in case `code` (citing `parent`), subject tags `tags`."""
    subject = f"Re: Report about behaviour in the forum {subject_tag(code)} {tags}".strip()
    raw = make_mail(sender=sender, sender_name="", to=to, cc=cc, subject=subject, body=body,
                    message_id=mid, in_reply_to=parent, references=[parent], date=when)
    assert file_mail(app, raw, when) == code


def mark_sent(app: App, code: str, kind: str, when: datetime) -> int:
    """Do what the sender does for `code`'s queued rows of `kind`: mark them sent."""
    with session_scope(app.engine) as session:
        case = find_case(session, code)
        assert case is not None
        rows = session.exec(select(Outbox).where(Outbox.case_id == case.id,
                                                 Outbox.kind == kind)).all()
        for row in rows:
            row.status, row.sent_at = "sent", when
            session.add(row)
        return len(rows)


def update_case(app: App, code: str, **fields: Any) -> None:
    """Set record fields on the case directly."""
    with session_scope(app.engine) as session:
        case = find_case(session, code)
        assert case is not None
        for key, value in fields.items():
            setattr(case, key, value)
        session.add(case)


def recuse(app: App, code: str, address: str) -> None:
    """Mark `address` recused from the case (as `#recuse` does)."""
    with session_scope(app.engine) as session:
        case = find_case(session, code)
        assert case is not None
        row = session.exec(select(Participant).where(Participant.case_id == case.id,
                                                     Participant.address == address)).first()
        if row is None:
            row = Participant(case_id=case.id or 0, address=address, role="member")
        row.recused = True
        session.add(row)


def outbox(app: App, kind: str, code: str | None = None) -> list[Outbox]:
    """Outbox rows of `kind` (for case `code`), oldest first."""
    with Session(app.engine) as session:
        query = select(Outbox).where(Outbox.kind == kind)
        if code is not None:
            case = find_case(session, code)
            assert case is not None
            query = query.where(Outbox.case_id == case.id)
        return list(session.exec(query.order_by(col(Outbox.id))).all())


def events(app: App, code: str, kind: str) -> list[Event]:
    """The case's events of `kind`, oldest first."""
    with Session(app.engine) as session:
        case = find_case(session, code)
        assert case is not None
        return list(session.exec(select(Event).where(Event.case_id == case.id,
                                                     Event.kind == kind)
                                 .order_by(col(Event.id))).all())


def case_row(app: App, code: str) -> Case:
    """The case record as stored now."""
    with Session(app.engine) as session:
        case = find_case(session, code)
        assert case is not None
        return case


def parsed(row: Outbox) -> EmailMessage:
    """An outbox row's message, parsed."""
    msg = message_from_bytes(row.raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def body_text(row: Outbox) -> str:
    """Subject plus every text part (plain and HTML) of an outbox row, decoded."""
    msg = parsed(row)
    parts = [str(msg["Subject"])]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


def reminders_of(app: App, reminder: str) -> list[tuple[Event, Outbox]]:
    """Every reminder of clock kind `reminder` sent: its event and its outbox row, oldest first."""
    with Session(app.engine) as session:
        events = session.exec(select(Event).where(Event.kind == "reminder_sent")
                               .order_by(col(Event.id))).all()
        out = []
        for ev in events:
            if ev.data.get("reminder") == reminder and ev.message_id:  # mailed ones
                row = session.exec(select(Outbox).where(
                    Outbox.message_id == ev.message_id)).one()
                out.append((ev, row))
        return out
