"""Helpers for the governance tests: file reports and members' commands, read the results."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from bot.core.app import App
from bot.store.models import Event, Outbox
from bot.store.records import case_record, find_case
from tests.dbtemplate import fresh_sqlite_url
from tests.helpers import ALEX, file, make_app, make_mail, outbox_rows

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
REP = "coc@djangocon.example"
_ids = count()


def gov_app(tmp_path: Path, **sections: Any) -> App:
    """An App on SQLite with a registered local representative."""
    sections.setdefault("local_representatives",
                        [{"name": "Riley Organiser", "email": REP, "programme": "DjangoCon"}])
    return make_app(fresh_sqlite_url(tmp_path, "gov.db"), clock=NOW, **sections)


def report(app: App, body: str, *, sender: str = "jo.reporter@mail.example",
           subject: str = "Report", mid: str | None = None, **kw: Any) -> str:
    """File a new report; return its code name."""
    out = file(app, make_mail(sender=sender, subject=subject, body=body,
                              message_id=mid or f"r{next(_ids)}@mail.example", **kw))
    assert out.new_case and out.case_code, out
    return out.case_code


def first_id(app: App, code: str) -> str:
    """The Message-ID of the case's first filed message."""
    return str(record(app, code)["message_ids"][0])


def command(app: App, code: str, tags: str, *, sender: str = ALEX, body: str = "Thanks.",
            **kw: Any) -> str:
    """A member's reply on the case thread with `tags` in the subject; its Message-ID."""
    parent = first_id(app, code)
    mid = f"c{next(_ids)}@{sender.split('@')[1]}"
    out = file(app, make_mail(sender=sender, subject=f"Re: [CoC {code.replace(' ', '-')}] "
                              f"Report {tags}", body=body, message_id=mid,
                              in_reply_to=parent, references=[parent], **kw))
    assert out.status == "filed" and out.case_code == code, out
    return mid


def record(app: App, code: str) -> dict[str, Any]:
    with Session(app.engine) as session:
        case = find_case(session, code)
        assert case is not None
        return case_record(session, case)


def events(app: App, kind: str) -> list[Event]:
    with Session(app.engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind)
                                 .order_by(col(Event.id))).all())


mails = outbox_rows


def text_of(row: Outbox) -> str:
    msg = email.message_from_bytes(row.raw, policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    return f"{msg['Subject']}\n{body.get_content()}"


def mails_to(app: App, address: str) -> list[Outbox]:
    """Every queued mail with `address` among its recipients."""
    return [r for r in mails(app) if address in r.recipients]


def last_transcript(app: App, to: str) -> str:
    rows = [r for r in mails(app, "transcript") if r.recipients == [to]]
    assert rows, f"no transcript to {to}"
    return text_of(rows[-1])
