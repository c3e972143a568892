"""Onboarding: the code-name list, no case detail before the statement, conflicts as recusals."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from bot.clocks.digest import send_digests
from bot.clocks.scheduler import run_due
from bot.core.app import App
from bot.store.db import session_scope
from bot.store.models import Outbox
from bot.store.people import ConflictStatement
from bot.store.records import case_record, find_case
from bot.store.roster import roster_rows, sync_roster
from tests.helpers import ALEX, MAYA, MEMBERS, file, make_app, make_mail

NINA = "nina@example.org"
NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
WITH_NINA: list[dict[str, Any]] = [*MEMBERS, {"name": "Nina New", "email": NINA,
                                               "role": "chair"}]


def outbox(app: App, kind: str | None = None) -> list[Outbox]:
    with Session(app.engine) as session:
        q = select(Outbox).order_by(col(Outbox.id))
        return [r for r in session.exec(q).all() if kind is None or r.kind == kind]


def body(row: Outbox) -> str:
    msg = email.message_from_bytes(row.raw, policy=email.policy.default)
    part = msg.get_body(("plain",))
    assert part is not None
    return f"{msg['Subject']}\n{part.get_content()}"  # type: ignore[attr-defined]


def world(tmp_path: Path) -> tuple[App, list[str]]:
    url = f"sqlite:///{tmp_path / 'onb.db'}"
    founding = make_app(url, clock=NOW)
    with session_scope(founding.engine) as session:
        sync_roster(session, founding.config)
    codes = []
    for i in range(2):
        out = file(founding, make_mail(message_id=f"rep{i}@mail.example", subject=f"Report {i}"))
        assert out.case_code
        codes.append(out.case_code)
    later = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
    app = make_app(url, clock=later, members=WITH_NINA)
    with session_scope(app.engine) as session:
        sync_roster(session, app.config)
    return app, codes


def test_new_member_gets_code_names_and_no_detail_until_they_answer(tmp_path: Path) -> None:
    app, codes = world(tmp_path)
    assert run_due(app) >= 1
    [welcome] = outbox(app, "onboarding")
    assert welcome.recipients == [NINA]
    text = body(welcome)
    for code in codes:
        assert code in text
    assert "jo.reporter" not in text.lower() and "Report 0" not in text
    run_due(app)
    assert len(outbox(app, "onboarding")) == 1, "asked once"

    # Before the statement: no case lines in Nina's digest, and her commands are refused.
    send_digests(app, app.now_utc(), force=True, only=[NINA, MAYA])
    digests = {r.recipients[0]: body(r) for r in outbox(app, "digest")}
    assert "awaiting your conflict statement" in digests[NINA]
    assert not any(code in digests[NINA] for code in codes)
    assert all(code in digests[MAYA] for code in codes)
    slug = codes[0].replace(" ", "-")
    file(app, make_mail(sender=NINA, subject=f"Re: [CoC {slug}] Report 0 #status",
                        in_reply_to="rep0@mail.example", message_id="n1@example.org",
                        authenticated=True))
    transcript = body(outbox(app, "transcript")[-1])
    assert "refused" in transcript and "Record of case" not in transcript

    # A forged answer changes nothing.
    welcome_id = email.message_from_bytes(welcome.raw)["Message-ID"].strip("<>")
    file(app, make_mail(sender=NINA, authenticated=False, subject="Re: Welcome #noconflict",
                        in_reply_to=welcome_id, message_id="forged@example.org"))
    with Session(app.engine) as session:
        assert session.exec(select(ConflictStatement)).one().answered_at is None

    # The statement: a conflict with the first case becomes a recusal.
    file(app, make_mail(sender=NINA, subject="Re: Welcome to the working group",
                        body=f"#conflict {codes[0]}\n\nThanks!", in_reply_to=welcome_id,
                        message_id="n2@example.org", authenticated=True))
    reply = body(outbox(app)[-1])
    assert f'conflict of interest with "{codes[0]}"' in reply
    with Session(app.engine) as session:
        case0 = find_case(session, codes[0])
        case1 = find_case(session, codes[1])
        assert case0 is not None and case1 is not None
        assert case_record(session, case0)["recused"] == [NINA]
        assert case_record(session, case1)["recused"] == []
    app.clock = lambda: datetime(2026, 4, 3, 9, 0, tzinfo=UTC)
    send_digests(app, app.now_utc(), force=True, only=[NINA])
    latest = body(outbox(app, "digest")[-1])
    assert codes[1] in latest and codes[0] not in latest
    assert "awaiting your conflict statement" not in latest


def test_noconflict_on_a_case_thread_and_leaving(tmp_path: Path) -> None:
    app, codes = world(tmp_path)
    run_due(app)
    slug = codes[1].replace(" ", "-")
    file(app, make_mail(sender=NINA, subject=f"Re: [CoC {slug}] Report 1 #noconflict",
                        in_reply_to="rep1@mail.example", message_id="n3@example.org",
                        authenticated=True))
    assert "no conflicts of interest" in body(outbox(app, "transcript")[-1])
    app.clock = lambda: datetime(2026, 4, 3, 9, 0, tzinfo=UTC)
    send_digests(app, app.now_utc(), force=True, only=[NINA])
    assert all(code in body(outbox(app, "digest")[-1]) for code in codes)

    # Alex leaves: the roster shows when, and nothing further goes to Alex.
    leaving = [m for m in WITH_NINA if m["email"] != ALEX]
    gone = make_app(str(app.engine.url), clock=datetime(2026, 4, 5, tzinfo=UTC),
                    members=leaving)
    with session_scope(gone.engine) as session:
        sync_roster(session, gone.config)
    [alex] = [r for r in roster_rows(gone) if r["email"] == ALEX]
    assert alex["active_until"].startswith("2026-04-05")
    before = len(outbox(gone))
    send_digests(gone, gone.now_utc(), force=True)
    run_due(gone)
    assert all(ALEX not in r.recipients for r in outbox(gone)[before:])
